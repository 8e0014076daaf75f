/* GoFly chat core: Outbox, every outgoing message until the server acknowledges it, kept in localStorage. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var store = G.store, uuid = G.uuid, t = G.t;

  // Errors that a resend cannot fix; anything else (rate_limited, server_error, ...) is retried.
  var FATAL_CODES = {
    too_large: 1, empty: 1, bad_content: 1, bad_client_id: 1, bad_frame: 1, bad_text: 1, too_deep: 1, unstorable: 1,
    not_found: 1, forbidden: 1,
  };
  var ACK_TIMEOUT = 10000;
  var MAX_TRIES = 5;
  var GIVE_UP_AFTER = 60000;

  function validItem(item) {
    return item && typeof item.client_id === "string" && typeof item.content === "string";
  }

  /**
   * opts: key (the prefix of its localStorage keys), transmit(item) -> bool (sends the message.send frame),
   * onChange(item, state).
   * Item: {client_id, content, created (ms), tries, lastTry, firstTry, state: "pending"|"failed", error, ...extra}.
   *
   * Every tab of one visitor (or agent) shares the outbox, one storage key per item ("<key>:<client_id>"),
   * so that a tab never rewrites another tab's items: localStorage reaches other tabs' processes with a
   * delay, and a read-modify-write of one shared list lost a message typed in a tab that was then closed.
   * A new tab adopts every stored item; two tabs sending the same client_id are harmless, the server
   * stores it once.
   */
  function Outbox(opts) {
    this.opts = opts;
    this.ready = false;
    this.prefix = opts.key + ":";
    var byId = {};
    var legacy = store.getJSON(opts.key, []); // one list under the bare key, as earlier versions kept it
    (Array.isArray(legacy) ? legacy : []).forEach(function (item) {
      if (validItem(item)) byId[item.client_id] = item;
    });
    store.keys(this.prefix).forEach(function (key) {
      var item = store.getJSON(key, null);
      if (validItem(item)) byId[item.client_id] = item;
    });
    this.items = Object.keys(byId)
      .map(function (id) {
        return byId[id];
      })
      .sort(function (a, b) {
        return (a.created || 0) - (b.created || 0);
      });
    this.save();
    store.remove(opts.key);
    var self = this;
    this.ticker = setInterval(function () {
      self.tick();
    }, 2000);
  }

  Outbox.prototype.save = function () {
    var self = this;
    this.items.forEach(function (item) {
      store.setJSON(self.prefix + item.client_id, item);
    });
  };

  /** Its message as a thread record: what a page shows for an item not yet stored (text or upload). */
  Outbox.prototype.record = function (item, sender) {
    return {
      client_id: item.client_id,
      sender: sender,
      kind: item.kind || "text",
      content: item.content,
      meta: item.meta || null,
      local: item.created,
      progress: item.progress,
    };
  };

  /** The message.send frame's data for an item: its text, or the upload it names. */
  Outbox.prototype.frameData = function (item, extra) {
    var data = { client_id: item.client_id };
    if (item.attachment) data.attachment = item.attachment;
    else data.content = item.content;
    return Object.assign(data, extra || {});
  };

  Outbox.prototype.get = function (clientId) {
    for (var i = 0; i < this.items.length; i++) if (this.items[i].client_id === clientId) return this.items[i];
    return null;
  };

  /** extra.state "uploading": the item waits for its upload (Uploader) before it is sent. */
  Outbox.prototype.add = function (content, extra) {
    var item = Object.assign({}, extra || {}, {
      client_id: uuid(),
      content: content,
      created: Date.now(),
      tries: 0,
      lastTry: 0,
      firstTry: 0,
      state: extra && extra.state === "uploading" ? "uploading" : "pending",
      error: "",
    });
    this.items.push(item);
    this.save();
    this._transmit(item);
    return item;
  };

  /** An upload still on its way ahead of `item` in its thread: the item waits, so that messages are
   * stored, and shown to the other side, in the order they were written. A failed upload holds nothing. */
  Outbox.prototype._behindUpload = function (item) {
    for (var i = 0; i < this.items.length && this.items[i] !== item; i++) {
      var other = this.items[i];
      if (other.state === "uploading" && other.visitor_id === item.visitor_id && other.created <= item.created) return true;
    }
    return false;
  };

  /** Send what waited behind an upload that has finished or failed (Uploader). */
  Outbox.prototype.flush = function () {
    var self = this;
    this.items.forEach(function (item) {
      if (item.state === "pending" && !item.tries) self._transmit(item);
    });
  };

  Outbox.prototype._transmit = function (item) {
    if (!this.ready || item.state !== "pending") return;
    if (this._behindUpload(item)) return;
    if (item.retryAt && item.retryAt > Date.now()) return;
    if (!this.opts.transmit(item)) return;
    item.retryAt = 0;
    item.tries++;
    item.lastTry = Date.now();
    if (!item.firstTry) item.firstTry = item.lastTry;
    this.save();
  };

  /** Connection usable (after the post-connect sync): send everything pending, oldest first. */
  Outbox.prototype.setReady = function (ready) {
    this.ready = ready;
    if (!ready) return;
    var self = this;
    this.items.forEach(function (item) {
      if (item.state === "pending") {
        item.retryAt = 0;
        // Time spent disconnected does not count against the message.
        if (item.firstTry) item.firstTry = Date.now();
        self._transmit(item);
      }
    });
  };

  /** The server stored it (ack, or seen in a sync): forget it. Returns the item, if it was ours. */
  Outbox.prototype.resolve = function (clientId) {
    // Also for an item another tab sent (its echo): its copy in storage is done with. If that tab writes
    // it back before it hears of it, a later page resends it once and the server acks it as a duplicate.
    var item = this.get(clientId);
    if (item) this.items.splice(this.items.indexOf(item), 1);
    store.remove(this.prefix + clientId);
    return item;
  };

  Outbox.prototype.fail = function (item, message) {
    item.state = "failed";
    item.error = message || "";
    this.save();
    if (this.opts.onChange) this.opts.onChange(item, "failed");
  };

  /** An error frame whose ref is one of our client_ids. */
  Outbox.prototype.error = function (clientId, code, message) {
    var item = this.get(clientId);
    if (!item) return;
    if (FATAL_CODES[code]) {
      this.fail(item, message);
    } else {
      item.retryAt = Date.now() + Math.min(15000, 2000 * item.tries);
      item.lastTry = Date.now();
      this.save();
    }
  };

  Outbox.prototype.retry = function (clientId) {
    var item = this.get(clientId);
    if (!item) return;
    item.state = "pending";
    item.tries = 0;
    item.firstTry = 0;
    item.retryAt = 0;
    item.error = "";
    this.save();
    if (this.opts.onChange) this.opts.onChange(item, "pending");
    this._transmit(item);
  };

  Outbox.prototype.discard = function (clientId) {
    var item = this.resolve(clientId);
    this.flush();
    return item;
  };

  Outbox.prototype.tick = function () {
    if (!this.ready) return;
    var now = Date.now();
    var self = this;
    this.items.forEach(function (item) {
      if (item.state !== "pending") return;
      if (item.tries === 0 || (item.retryAt && item.retryAt <= now)) {
        self._transmit(item);
        return;
      }
      if (item.retryAt > now || now - item.lastTry < ACK_TIMEOUT) return;
      if (item.tries >= MAX_TRIES || now - item.firstTry > GIVE_UP_AFTER) {
        self.fail(item, t("Not delivered."));
      } else {
        self._transmit(item);
      }
    });
  };

  Object.assign(G, {
    Outbox: Outbox,
  });
})(window);
