/* GoFly chat core: Uploader (uploads with progress and retries, then sent by the outbox) and the file inputs. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var t = G.t, backoffDelay = G.backoffDelay;

  var UPLOAD_TRIES = 4;
  // An upload saves its progress every few seconds: one not heard of for this long (a reload, a closed
  // tab) was interrupted, and its bytes are gone with the page that held them.
  var UPLOAD_STALE = 15000;
  var IMAGE_TYPES = /^image\/(png|jpeg|gif|webp|bmp)$/;

  /**
   * Uploads files and hands their messages to the outbox. opts: outbox, url(item) -> the upload endpoint,
   * headers() -> request headers, ready() -> whether uploads may start (logged in), limits() -> {image_max_mb, file_max_mb},
   * onChange(item) (the page re-renders the item's record), onProgress(item).
   *
   * The upload_id is the message's client_id: an upload retried after a dropped connection is stored
   * once (the server answers the stored one), and the outbox then sends its message once, as any other.
   * The bytes live only in this page: an upload cut off by a reload cannot resume and says so.
   */
  function Uploader(opts) {
    this.opts = opts;
    this.blobs = {};
    this.xhrs = {};
    var self = this;
    this.timer = setInterval(function () {
      self.tick();
    }, 5000);
    this.tick();
  }

  Uploader.prototype.tick = function () {
    var self = this;
    var now = Date.now();
    this.opts.outbox.items.forEach(function (item) {
      if (item.state === "uploading" && !self.blobs[item.client_id] && now - (item.touched || item.created) > UPLOAD_STALE) {
        if (item.meta && item.meta.attachment) item.meta.attachment.url = ""; // its page's blob: URL died with it
        self._fail(item, t("The upload was interrupted; choose the file again."), true);
      }
    });
  };

  Uploader.prototype.add = function (file, extra) {
    var limits = (this.opts.limits && this.opts.limits()) || {};
    var image = IMAGE_TYPES.test(file.type || "");
    var name = String(file.name || (image ? "image." + file.type.split("/")[1] : "file")).slice(0, 200);
    var local = { local: true, kind: image ? "image" : "file", name: name, size: file.size, url: "" };
    if (image) {
      try {
        local.url = URL.createObjectURL(file);
      } catch (e) {
        local.url = "";
      }
    }
    var item = this.opts.outbox.add("", Object.assign({}, extra || {}, {
      state: "uploading",
      kind: local.kind,
      meta: { attachment: local },
      progress: 0,
      touched: Date.now(),
      uploadTries: 0,
    }));
    // The server decides by content and checks again; this saves sending what it would refuse.
    var limitMb = image ? limits.image_max_mb : limits.file_max_mb;
    if (file.size === 0) {
      this._fail(item, t("The file is empty."), true);
    } else if (limitMb && file.size > limitMb * 1048576) {
      this._fail(item, t("The file is larger than {limit} MB.", { limit: limitMb }), true);
    } else {
      this.blobs[item.client_id] = file;
      this._upload(item);
    }
    return item;
  };

  /** Retry (the page's Retry button): the upload again if it never finished, else the message. */
  Uploader.prototype.retry = function (clientId) {
    var outbox = this.opts.outbox;
    var item = outbox.get(clientId);
    if (!item) return;
    if (item.attachment || !item.meta || !item.meta.attachment || !item.meta.attachment.local) {
      outbox.retry(clientId);
      return;
    }
    if (!this.blobs[clientId]) return;
    item.state = "uploading";
    item.error = "";
    item.fatal = false;
    item.uploadTries = 0;
    outbox.save();
    this.opts.onChange(item);
    this._upload(item);
  };

  Uploader.prototype.discard = function (clientId) {
    var xhr = this.xhrs[clientId];
    if (xhr) xhr.abort();
    delete this.xhrs[clientId];
    delete this.blobs[clientId];
  };

  Uploader.prototype._fail = function (item, message, fatal) {
    delete this.xhrs[item.client_id];
    if (fatal) delete this.blobs[item.client_id];
    item.fatal = !!fatal;
    this.opts.outbox.fail(item, message);
    this.opts.onChange(item);
    this.opts.outbox.flush(); // what waited behind it goes now
  };

  Uploader.prototype._upload = function (item) {
    var self = this;
    var outbox = this.opts.outbox;
    var file = this.blobs[item.client_id];
    if (!file || this.xhrs[item.client_id]) return;
    if (this.opts.ready && !this.opts.ready()) {
      // Picked before the page has logged in: it goes once there is someone to upload as.
      setTimeout(function () {
        if (outbox.get(item.client_id)) self._upload(item);
      }, 500);
      return;
    }
    var form = new FormData();
    form.append("upload_id", item.client_id);
    form.append("file", file, item.meta.attachment.name);
    var xhr = new XMLHttpRequest();
    this.xhrs[item.client_id] = xhr;
    xhr.open("POST", this.opts.url(item));
    var headers = this.opts.headers ? this.opts.headers() : {};
    Object.keys(headers).forEach(function (k) {
      xhr.setRequestHeader(k, headers[k]);
    });
    var lastSaved = 0;
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      item.progress = Math.min(0.99, e.loaded / e.total);
      item.touched = Date.now();
      if (item.touched - lastSaved > 4000) {
        lastSaved = item.touched;
        outbox.save();
      }
      if (self.opts.onProgress) self.opts.onProgress(item);
    };
    function again() {
      delete self.xhrs[item.client_id];
      if (!outbox.get(item.client_id)) return; // discarded meanwhile
      item.uploadTries = (item.uploadTries || 0) + 1;
      if (item.uploadTries >= UPLOAD_TRIES) {
        self._fail(item, t("The upload failed."), false);
        return;
      }
      item.touched = Date.now();
      outbox.save();
      setTimeout(function () {
        self._upload(item);
      }, backoffDelay(item.uploadTries, 1000, 15000));
    }
    xhr.onerror = xhr.ontimeout = again;
    xhr.onload = function () {
      delete self.xhrs[item.client_id];
      if (!outbox.get(item.client_id)) return;
      var body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        body = null;
      }
      if ((xhr.status === 200 || xhr.status === 201) && body && body.attachment) {
        delete self.blobs[item.client_id];
        var local = item.meta.attachment;
        if (local.url && local.url.indexOf("blob:") === 0) {
          setTimeout(function () {
            URL.revokeObjectURL(local.url);
          }, 10000);
        }
        item.attachment = body.attachment.key;
        item.content = "";
        item.meta = { attachment: body.attachment };
        item.progress = 1;
        item.state = "pending";
        outbox.save();
        self.opts.onChange(item);
        outbox.flush();
        return;
      }
      if (xhr.status === 0 || xhr.status >= 500 || xhr.status === 429 || xhr.status === 408) {
        again();
        return;
      }
      var err = body && body.error;
      var message = (err && G.codeText(err.code, err.message, "upload")) || t("The upload failed.");
      self._fail(item, message, xhr.status !== 401);
    };
    xhr.send(form);
  };

  /**
   * Files chosen, pasted or dropped: opts.root (the drop zone), opts.textarea (paste), opts.imageInput and
   * opts.fileInput (hidden <input type=file>) opened by opts.imageButton and opts.fileButton, opts.onFiles(files).
   */
  function FileInputs(opts) {
    function take(list) {
      var files = Array.prototype.slice.call(list || []).filter(function (f) {
        return f && typeof f.size === "number";
      });
      if (files.length) opts.onFiles(files.slice(0, 10));
    }
    [[opts.imageButton, opts.imageInput], [opts.fileButton, opts.fileInput]].forEach(function (pair) {
      if (pair[0] && pair[1]) {
        pair[0].addEventListener("click", function () {
          pair[1].click();
        });
      }
    });
    [opts.imageInput, opts.fileInput].forEach(function (input) {
      if (!input) return;
      input.addEventListener("change", function () {
        take(input.files);
        input.value = "";
      });
    });
    if (opts.textarea) {
      opts.textarea.addEventListener("paste", function (e) {
        var files = e.clipboardData && e.clipboardData.files;
        if (files && files.length) {
          e.preventDefault();
          take(files);
        }
      });
    }
    var root = opts.root;
    if (!root) return;
    var depth = 0;
    function hasFiles(e) {
      return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") !== -1;
    }
    root.addEventListener("dragenter", function (e) {
      if (!hasFiles(e)) return;
      depth++;
      root.classList.add("is-dropping");
    });
    root.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) root.classList.remove("is-dropping");
    });
    root.addEventListener("dragover", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    root.addEventListener("drop", function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      root.classList.remove("is-dropping");
      take(e.dataTransfer.files);
    });
  }

  /** The composer's attach buttons (templates/chat/_attach_buttons.html), a drop zone and paste. */
  function composerFiles(root, textarea, onFiles) {
    var byId = function (id) {
      return document.getElementById(id);
    };
    FileInputs({
      root: root,
      textarea: textarea,
      imageButton: byId("composer-image"),
      imageInput: byId("composer-image-input"),
      fileButton: byId("composer-file"),
      fileInput: byId("composer-file-input"),
      onFiles: onFiles,
    });
  }

  Object.assign(G, {
    Uploader: Uploader,
    composerFiles: composerFiles,
  });
})(window);
