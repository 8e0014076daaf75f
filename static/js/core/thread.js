/* GoFly chat core: Thread (one conversation's messages, deduplicated, in order) and ThreadView (its rendering). */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var el = G.el, t = G.t, toDate = G.toDate, dayKey = G.dayKey, formatDay = G.formatDay,
    formatTime = G.formatTime, formatDateTime = G.formatDateTime, eventText = G.eventText,
    renderContent = G.renderContent, renderAttachment = G.renderAttachment;

  // ---------------------------------------------------------------------------------------------
  // Thread: one conversation's messages, deduplicated by id and by (sender, client_id), ordered by id
  // ---------------------------------------------------------------------------------------------

  /** A record: {key, id|null, client_id, sender, kind, content, created_at, agent, state}. */
  function Thread() {
    this.byId = {};
    this.byClient = {};
    this.records = [];
    this.more = false;
    this.loaded = false;
    this.readUpTo = 0;
    // Where the next older page starts: the oldest message a history page returned. Not minId(): a live
    // message held before the first page can be older than that page and would skip the gap between.
    this.pageCursor = 0;
  }

  /** Merge one page of history (newest first, as the API returns it). */
  Thread.prototype.mergePage = function (messages, more, mergeOne) {
    var self = this;
    messages.forEach(function (m) {
      (mergeOne || function (x) { return self.merge(x); })(m);
      if (m.id != null && (!self.pageCursor || m.id < self.pageCursor)) self.pageCursor = m.id;
    });
    this.more = !!more;
    this.loaded = true;
  };

  Thread.prototype.merge = function (msg, state) {
    var rec = msg.id != null ? this.byId[msg.id] : null;
    var ckey = msg.client_id ? msg.sender + ":" + msg.client_id : null;
    if (!rec && ckey) rec = this.byClient[ckey];
    var isNew = !rec;
    if (!rec) {
      rec = { key: msg.id != null ? "m" + msg.id : "c" + msg.client_id, local: 0 };
      this.records.push(rec);
    }
    ["id", "client_id", "sender", "kind", "content", "created_at", "agent", "conversation_id", "meta", "progress"].forEach(function (k) {
      if (msg[k] !== undefined && msg[k] !== null) rec[k] = msg[k];
    });
    if (msg.local) rec.local = msg.local;
    if (state) rec.state = state;
    else if (rec.id != null && (!rec.state || rec.state === "sending" || rec.state === "failed")) rec.state = "sent";
    if (rec.id != null) this.byId[rec.id] = rec;
    if (ckey) this.byClient[ckey] = rec;
    this._sort();
    return { rec: rec, isNew: isNew };
  };

  Thread.prototype.findClient = function (sender, clientId) {
    return this.byClient[sender + ":" + clientId] || null;
  };

  Thread.prototype.remove = function (rec) {
    var i = this.records.indexOf(rec);
    if (i >= 0) this.records.splice(i, 1);
    if (rec.id != null) delete this.byId[rec.id];
    if (rec.client_id) delete this.byClient[rec.sender + ":" + rec.client_id];
  };

  Thread.prototype._sort = function () {
    this.records.sort(function (a, b) {
      var ai = a.id != null, bi = b.id != null;
      if (ai && bi) return a.id - b.id;
      if (ai) return -1;
      if (bi) return 1;
      return (a.local || 0) - (b.local || 0);
    });
  };

  Thread.prototype.minId = function () {
    for (var i = 0; i < this.records.length; i++) if (this.records[i].id != null) return this.records[i].id;
    return 0;
  };

  Thread.prototype.maxId = function (sender) {
    for (var i = this.records.length - 1; i >= 0; i--) {
      var r = this.records[i];
      if (r.id != null && (!sender || r.sender === sender)) return r.id;
    }
    return 0;
  };

  Thread.prototype.last = function () {
    return this.records.length ? this.records[this.records.length - 1] : null;
  };

  // ---------------------------------------------------------------------------------------------
  // ThreadView: renders a Thread into a scrolling list, reusing nodes, with day dividers
  // ---------------------------------------------------------------------------------------------

  /**
   * opts: self ("visitor"|"agent": whose messages go on the right), avatar(rec) -> url, name(rec) -> string,
   * onRetry(rec), onDiscard(rec), leading() -> [nodes] shown above the first message, underDivider() ->
   * [nodes] shown under the first day's divider (today's when there is no message yet), and optionally
   * eventText(code, meta) -> string, to word timeline lines for this reader (default: eventText).
   */
  function ThreadView(container, opts) {
    this.container = container;
    this.opts = opts;
    this.nodes = {};
    this.thread = null;
  }

  ThreadView.prototype.nearBottom = function () {
    var c = this.container;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 120;
  };

  ThreadView.prototype.scrollToBottom = function () {
    this.container.scrollTop = this.container.scrollHeight;
  };

  ThreadView.prototype.show = function (thread) {
    this.thread = thread;
    this.nodes = {};
    this.render({ stick: true });
  };

  /** Re-render; options.stick forces scrolling to the end, options.keepTop anchors when older pages are prepended. */
  ThreadView.prototype.render = function (options) {
    options = options || {};
    var c = this.container;
    var stick = options.stick || this.nearBottom();
    var oldHeight = c.scrollHeight, oldTop = c.scrollTop;
    var frag = document.createDocumentFragment();
    var self = this;
    var append = function (n) {
      if (n) frag.appendChild(n);
    };
    (this.opts.leading ? this.opts.leading() : []).forEach(append);
    // E.g. the welcome: it opens the conversation, so it sits under the first day's divider.
    var under = (this.opts.underDivider ? this.opts.underDivider() : []).filter(Boolean);
    if (this.thread) {
      var lastDay = null, prev = null, lastOut = null;
      this.thread.records.forEach(function (rec) {
        var d = toDate(rec.created_at) || new Date(rec.local || Date.now());
        var day = dayKey(d);
        if (day !== lastDay) {
          frag.appendChild(self._divider(day, d));
          if (lastDay === null) under.forEach(append);
          lastDay = day;
          prev = null;
        }
        var node = self._node(rec);
        // Consecutive messages of one sender within 5 minutes are grouped (one avatar).
        var grouped = prev && prev.sender === rec.sender && prev.sender !== "system" &&
          Math.abs(d - (toDate(prev.created_at) || new Date(prev.local || 0))) < 300000 &&
          (rec.sender !== "agent" || !prev.agent || !rec.agent || prev.agent.id === rec.agent.id);
        node.classList.toggle("msg--grouped", !!grouped);
        node.classList.remove("is-last");
        if (rec.sender === self.opts.self) lastOut = node;
        frag.appendChild(node);
        prev = rec;
      });
      if (lastOut) lastOut.classList.add("is-last");
    }
    if (under.length && !(this.thread && this.thread.records.length)) {
      var today = new Date();
      frag.appendChild(this._divider(dayKey(today), today));
      under.forEach(append);
    }
    (this.opts.trailing ? this.opts.trailing() : []).forEach(function (n) {
      if (n) frag.appendChild(n);
    });
    c.replaceChildren(frag);
    if (options.keepTop) c.scrollTop = oldTop + (c.scrollHeight - oldHeight);
    else if (stick) this.scrollToBottom();
  };

  ThreadView.prototype._divider = function (day, d) {
    var key = "day" + day;
    var node = this.nodes[key];
    if (!node) {
      node = this.nodes[key] = el("div", { className: "day-divider", attrs: { role: "separator" } }, [
        el("span", { text: formatDay(d) }),
      ]);
    }
    return node;
  };

  ThreadView.prototype._node = function (rec) {
    var cached = this.nodes[rec.key];
    var att = rec.meta && rec.meta.attachment;
    var sig = [rec.id, rec.state, rec.content, rec.created_at, rec.error, rec.fatal, att && att.url].join("|");
    if (cached && cached._sig === sig) return cached;
    var node = this._build(rec);
    node._sig = sig;
    if (cached && cached.parentNode) cached.parentNode.replaceChild(node, cached);
    this.nodes[rec.key] = node;
    return node;
  };

  ThreadView.prototype._build = function (rec) {
    var opts = this.opts;
    if (rec.kind === "event") {
      return el("div", { className: "msg msg--system msg--event", dataset: { id: rec.id || "", event: rec.content } }, [
        el("span", { className: "msg--system__text", text: (opts.eventText || eventText)(rec.content, rec.meta || {}) }),
        rec.created_at ? el("time", { className: "msg--event__time", text: formatTime(rec.created_at) }) : null,
      ].filter(Boolean));
    }
    if (rec.sender === "system") {
      return el("div", { className: "msg msg--system", dataset: { id: rec.id || "" } }, [
        el("span", { className: "msg--system__text", text: rec.content }),
      ]);
    }
    var out = opts.isOut ? opts.isOut(rec) : rec.sender === opts.self;
    var bubble = el("div", { className: "bubble" });
    var attachment = (rec.kind === "image" || rec.kind === "file") && rec.meta && rec.meta.attachment;
    if (attachment) renderAttachment(attachment, bubble, rec);
    else renderContent(rec.content, bubble);
    var status = null;
    if (out) {
      var state = rec.state || "sent";
      var label = {
        uploading: t("Uploading…"),
        sending: t("Sending…"),
        sent: t("Sent"),
        read: t("Read"),
        failed: t("Not delivered"),
      }[state] || "";
      if (state === "failed" && rec.error) label += " · " + rec.error;
      var children = [el("span", { className: "msg__tick", attrs: { "aria-hidden": "true" } }), el("span", { text: label })];
      if (state === "failed") {
        children.push(
          rec.fatal ? null : el("button", {
            className: "link-btn msg__retry",
            text: t("Retry"),
            attrs: { type: "button", title: rec.error || "" },
            on: { click: function () { opts.onRetry && opts.onRetry(rec); } },
          }),
          el("button", {
            className: "link-btn msg__discard",
            text: t("Delete"),
            attrs: { type: "button" },
            on: { click: function () { opts.onDiscard && opts.onDiscard(rec); } },
          })
        );
      }
      status = el("div", { className: "msg__status msg__status--" + state }, children.filter(Boolean));
    }
    var name = opts.name ? opts.name(rec) : "";
    var avatar = opts.avatar ? opts.avatar(rec) : "";
    var time = rec.created_at || (rec.local ? new Date(rec.local) : null);
    return el(
      "div",
      {
        className: "msg " + (out ? "msg--out" : "msg--in") + " msg--" + rec.sender,
        dataset: { id: rec.id != null ? rec.id : "", clientId: rec.client_id || "", state: out ? rec.state || "sent" : "" },
      },
      [
        el("img", { className: "msg__avatar", attrs: { src: avatar, alt: "", width: 32, height: 32 } }),
        el("div", { className: "msg__body" }, [
          el("div", { className: "msg__meta" }, [
            name ? el("span", { className: "msg__name", text: name }) : null,
            el("time", {
              className: "msg__time",
              text: formatTime(time),
              attrs: { datetime: toDate(time) ? toDate(time).toISOString() : "", title: formatDateTime(time) },
            }),
          ]),
          bubble,
          status,
        ]),
      ]
    );
  };

  /** Updates an uploading message's bar in place (no re-render per progress event). */
  ThreadView.prototype.progress = function (rec) {
    var node = this.nodes[rec.key];
    var bar = node && node.querySelector(".att-progress__bar");
    if (bar) bar.style.width = Math.round((rec.progress || 0) * 100) + "%";
    var meter = node && node.querySelector(".att-progress");
    if (meter) meter.setAttribute("aria-valuenow", String(Math.round((rec.progress || 0) * 100)));
  };

  Object.assign(G, {
    Thread: Thread,
    ThreadView: ThreadView,
  });
})(window);
