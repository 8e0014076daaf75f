/* GoFly chat core: attachments in a thread (image thumbnails, file cards) and the image viewer. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var el = G.el, t = G.t, safeURL = G.safeURL;

  function humanSize(bytes) {
    var n = Number(bytes) || 0;
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function extensionOf(name) {
    var m = /\.([A-Za-z0-9]{1,8})$/.exec(String(name || ""));
    return m ? m[1].toLowerCase() : "";
  }

  var FILE_GROUPS = {
    pdf: "pdf", doc: "doc", docx: "doc", odt: "doc", rtf: "doc", txt: "txt", md: "txt", log: "txt",
    xls: "sheet", xlsx: "sheet", csv: "sheet", ods: "sheet", ppt: "slides", pptx: "slides", odp: "slides",
    zip: "archive", rar: "archive", "7z": "archive", gz: "archive", tar: "archive", bz2: "archive", xz: "archive",
    mp3: "audio", wav: "audio", ogg: "audio", m4a: "audio", flac: "audio", aac: "audio", amr: "audio",
    mp4: "video", mov: "video", webm: "video", mkv: "video", avi: "video",
  };

  /** The box an image is shown in: its shape, at most 240 x 240 CSS pixels (no jump when it loads). */
  function imageBox(a) {
    var w = Number(a.width) || 0, h = Number(a.height) || 0;
    if (!w || !h) return null;
    var scale = Math.min(1, 240 / w, 240 / h);
    return { width: Math.max(24, Math.round(w * scale)), height: Math.max(24, Math.round(h * scale)) };
  }

  function renderAttachment(a, parent, rec) {
    var url = a.local ? a.url : safeURL(a.url, true);
    var name = String(a.name || "");
    var progress = rec && rec.state === "uploading"
      ? el("span", { className: "att-progress", attrs: { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" } }, [
          el("span", { className: "att-progress__bar", attrs: { style: "width:" + Math.round((rec.progress || 0) * 100) + "%" } }),
        ])
      : null;
    if (a.kind === "image" && url) {
      parent.classList.add("bubble--media");
      var box = imageBox(a);
      var img = el("img", {
        className: "att-image__img",
        attrs: { src: a.local ? url : safeURL(a.thumb_url, true) || url, alt: name, loading: "lazy", decoding: "async" },
      });
      if (box) {
        img.setAttribute("width", box.width);
        img.setAttribute("height", box.height);
      }
      var open = el("button", {
        className: "att-image",
        attrs: { type: "button", title: name, "aria-label": t("View image {name}", { name: name }) },
        on: {
          click: function () {
            if (!a.local) viewer.open(a);
          },
        },
      }, [img, progress]);
      parent.appendChild(open);
      return;
    }
    parent.classList.add("bubble--card");
    var ext = extensionOf(name);
    var body = [
      el("span", { className: "att-file__icon att-file__icon--" + (FILE_GROUPS[ext] || "other"), attrs: { "aria-hidden": "true" } }, [
        el("span", { text: ext ? ext.slice(0, 4).toUpperCase() : "FILE" }),
      ]),
      el("span", { className: "att-file__body" }, [
        el("span", { className: "att-file__name", text: name }),
        el("span", { className: "att-file__size", text: humanSize(a.size) + (a.local ? "" : " · " + t("Download")) }),
        progress,
      ]),
    ];
    parent.appendChild(
      url && !a.local
        ? el("a", { className: "att-file", attrs: { href: url, download: name, rel: "noopener", title: t("Download {name}", { name: name }) } }, body)
        : el("div", { className: "att-file" }, body)
    );
  }

  /** One full-screen viewer for images, opened by a thumbnail: Esc, the backdrop or × close it. */
  var viewer = {
    node: null,
    back: null,
    open: function (a) {
      var self = this;
      if (!this.node) {
        this.img = el("img", { className: "viewer__img", attrs: { alt: "" } });
        this.name = el("span", { className: "viewer__name" });
        this.download = el("a", { className: "viewer__btn", text: t("Download"), attrs: { rel: "noopener" } });
        this.closeBtn = el("button", {
          className: "viewer__btn viewer__close",
          text: "\u00d7",
          attrs: { type: "button", "aria-label": t("Close"), title: t("Close") },
          on: { click: function () { self.close(); } },
        });
        this.node = el("div", {
          className: "viewer",
          attrs: { role: "dialog", "aria-modal": "true", "aria-label": t("Image"), hidden: true, tabindex: "-1" },
          on: {
            click: function (e) {
              if (e.target === self.node || e.target === self.stage) self.close();
            },
            keydown: function (e) {
              if (e.key === "Escape") {
                e.stopPropagation();
                self.close();
              } else if (e.key === "Tab") {
                e.preventDefault(); // focus stays in the dialog
                (document.activeElement === self.closeBtn ? self.download : self.closeBtn).focus();
              }
            },
          },
        }, [
          el("div", { className: "viewer__bar" }, [this.name, this.download, this.closeBtn]),
          (this.stage = el("div", { className: "viewer__stage" }, [this.img])),
        ]);
        document.body.appendChild(this.node);
      }
      var url = safeURL(a.url, true);
      this.back = document.activeElement;
      this.img.src = url;
      this.img.alt = a.name || "";
      this.name.textContent = a.name || "";
      this.download.href = url;
      this.download.setAttribute("download", a.name || "");
      this.node.hidden = false;
      this.closeBtn.focus();
    },
    close: function () {
      if (!this.node || this.node.hidden) return;
      this.node.hidden = true;
      this.img.removeAttribute("src");
      if (this.back && this.back.focus) this.back.focus();
    },
    isOpen: function () {
      return !!this.node && !this.node.hidden;
    },
  };

  Object.assign(G, {
    humanSize: humanSize,
    renderAttachment: renderAttachment,
    viewer: viewer,
  });
})(window);
