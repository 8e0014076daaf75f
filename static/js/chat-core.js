/* GoFly chat core, shared by the visitor page and the agent console: a reconnecting websocket, the
 * persisted outbox that guarantees delivery, the message thread model and its rendering, the composer
 * and the emoji picker. Plain ES2017, no build step, no dependencies.
 *
 * Message text is data: everything user-provided goes through textContent or setAttribute on
 * attributes we choose, never innerHTML.
 */
(function (global) {
  "use strict";

  var GoFly = (global.GoFly = global.GoFly || {});

  // ---------------------------------------------------------------------------------------------
  // Small utilities
  // ---------------------------------------------------------------------------------------------

  function uuid() {
    var c = global.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (e) {
        /* insecure context: fall through */
      }
    }
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    });
    return (
      hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" + hex.slice(6, 8).join("") + "-" +
      hex.slice(8, 10).join("") + "-" + hex.slice(10, 16).join("")
    );
  }

  /** el("div", {className, text, attrs, on, dataset}, children): the only way we build DOM. */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.className) node.className = props.className;
    if (props.text != null) node.textContent = String(props.text);
    if (props.attrs) {
      Object.keys(props.attrs).forEach(function (k) {
        var v = props.attrs[k];
        if (v === false || v == null) return;
        node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    if (props.dataset) {
      Object.keys(props.dataset).forEach(function (k) {
        node.dataset[k] = String(props.dataset[k]);
      });
    }
    if (props.on) {
      Object.keys(props.on).forEach(function (k) {
        node.addEventListener(k, props.on[k]);
      });
    }
    (children || []).forEach(function (child) {
      if (child == null || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function readJSONScript(id, fallback) {
    var node = document.getElementById(id);
    if (!node) return fallback;
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return fallback;
    }
  }

  // Translated strings come from the page (a json_script rendered with {% trans %}); "{name}" placeholders.
  var strings = {};
  function t(key, params) {
    var s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    if (params) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return params[name] != null ? String(params[name]) : m;
      });
    }
    return s;
  }

  // localStorage that never throws (Safari private mode, third-party iframes with storage blocked).
  var memoryStore = {};
  var store = {
    get: function (key) {
      try {
        var v = global.localStorage.getItem(key);
        return v == null ? (memoryStore[key] != null ? memoryStore[key] : null) : v;
      } catch (e) {
        return memoryStore[key] != null ? memoryStore[key] : null;
      }
    },
    set: function (key, value) {
      memoryStore[key] = value;
      try {
        global.localStorage.setItem(key, value);
      } catch (e) {
        /* memory only */
      }
    },
    remove: function (key) {
      delete memoryStore[key];
      try {
        global.localStorage.removeItem(key);
      } catch (e) {
        /* ignore */
      }
    },
    /** Every stored key that starts with `prefix`. */
    keys: function (prefix) {
      var found = {};
      Object.keys(memoryStore).forEach(function (key) {
        if (key.indexOf(prefix) === 0) found[key] = true;
      });
      try {
        for (var i = 0; i < global.localStorage.length; i++) {
          var key = global.localStorage.key(i);
          if (key && key.indexOf(prefix) === 0) found[key] = true;
        }
      } catch (e) {
        /* memory only */
      }
      return Object.keys(found);
    },
    getJSON: function (key, fallback) {
      var raw = store.get(key);
      if (!raw) return fallback;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    setJSON: function (key, value) {
      store.set(key, JSON.stringify(value));
    },
  };

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return "";
  }

  /** fetch JSON; resolves {ok, status, data}; network failures resolve with status 0. */
  function api(method, url, body, headers, fetchOptions) {
    var opts = Object.assign({ method: method, headers: Object.assign({ Accept: "application/json" }, headers || {}) }, fetchOptions || {});
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET" && !opts.headers.Authorization) {
      var csrf = cookie("csrftoken");
      if (csrf) opts.headers["X-CSRFToken"] = csrf;
      opts.credentials = "same-origin";
    }
    return fetch(url, opts).then(
      function (res) {
        return res
          .json()
          .catch(function () {
            return null;
          })
          .then(function (data) {
            return { ok: res.ok, status: res.status, data: data };
          });
      },
      function () {
        return { ok: false, status: 0, data: null };
      }
    );
  }

  function errorText(result) {
    var err = result && result.data && result.data.error;
    if (err && typeof err.message === "string") return err.message;
    if (err && err.message) return JSON.stringify(err.message);
    return result && result.status === 0 ? t("Network error, retrying…") : t("Something went wrong.");
  }

  function wsURL(path, query) {
    var proto = global.location.protocol === "https:" ? "wss://" : "ws://";
    return proto + global.location.host + path + (query ? "?" + query : "");
  }

  function backoffDelay(attempt, base, cap) {
    // "Full jitter" between half and all of the exponential delay, so clients do not reconnect in lockstep.
    var exp = Math.min(cap, base * Math.pow(2, attempt));
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  // ---------------------------------------------------------------------------------------------
  // Time formatting
  // ---------------------------------------------------------------------------------------------

  var lang = (document.documentElement.getAttribute("lang") || "en").replace("_", "-");
  var timeFmt, dayFmt, dateTimeFmt;
  try {
    timeFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
    dayFmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", weekday: "short" });
    dateTimeFmt = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    });
  } catch (e) {
    timeFmt = dayFmt = dateTimeFmt = { format: function (d) { return d.toLocaleString(); } };
  }

  function toDate(value) {
    if (!value) return null;
    var d = value instanceof Date ? value : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }
  function dayKey(d) {
    return d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
  }
  function formatTime(value) {
    var d = toDate(value);
    return d ? timeFmt.format(d) : "";
  }
  function formatDateTime(value) {
    var d = toDate(value);
    return d ? dateTimeFmt.format(d) : "";
  }
  function formatDay(d) {
    var today = new Date();
    var yesterday = new Date(today.getTime() - 86400000);
    if (dayKey(d) === dayKey(today)) return t("Today");
    if (dayKey(d) === dayKey(yesterday)) return t("Yesterday");
    return dayFmt.format(d);
  }
  /** Short relative label for lists: time today, otherwise the date. */
  function formatShort(value) {
    var d = toDate(value);
    if (!d) return "";
    if (dayKey(d) === dayKey(new Date())) return timeFmt.format(d);
    try {
      return new Intl.DateTimeFormat(lang, { month: "numeric", day: "numeric" }).format(d);
    } catch (e) {
      return d.toLocaleDateString();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Content rendering: plain text with links, and the original's product cards
  // ---------------------------------------------------------------------------------------------

  var URL_RE = /\bhttps?:\/\/[^\s<>"'，。、！？）]+/gi;

  function safeURL(value, allowRelative) {
    if (typeof value !== "string") return "";
    value = value.trim();
    if (/^https?:\/\//i.test(value)) return value;
    if (allowRelative && /^\/(static|media)\//.test(value)) return value;
    return "";
  }

  function linkify(text, parent) {
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      if (offset > last) parent.appendChild(document.createTextNode(text.slice(last, offset)));
      parent.appendChild(
        el("a", { text: url, attrs: { href: url, target: "_blank", rel: "noopener noreferrer nofollow" } })
      );
      last = offset + url.length;
      return match;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function productCard(text) {
    var m = /^product\[(\{[\s\S]*\})\]$/.exec(text.trim());
    if (!m) return null;
    var p;
    try {
      p = JSON.parse(m[1]);
    } catch (e) {
      return null;
    }
    if (!p || typeof p !== "object") return null;
    var url = safeURL(p.url, true);
    var img = safeURL(p.img, true);
    var card = el(url ? "a" : "div", {
      className: "product-card",
      attrs: url ? { href: url, target: "_blank", rel: "noopener noreferrer nofollow" } : {},
    }, [
      img ? el("img", { className: "product-card__img", attrs: { src: img, alt: "", loading: "lazy" } }) : null,
      el("span", { className: "product-card__body" }, [
        el("span", { className: "product-card__title", text: p.title != null ? String(p.title) : "" }),
        p.price != null && p.price !== "" ? el("span", { className: "product-card__price", text: String(p.price) }) : null,
      ]),
    ]);
    return card;
  }

  function renderContent(content, parent) {
    var text = content == null ? "" : String(content);
    var card = productCard(text);
    if (card) {
      parent.classList.add("bubble--card");
      parent.appendChild(card);
      return;
    }
    linkify(text, parent);
  }

  // Rich text (welcome texts, replies/): the server's sanitised HTML, parsed inertly and rebuilt from the
  // allowed elements only (nh3's allow-list, again here): never assigned as markup, so nothing in it runs.
  var RICH_TAGS = { P: 1, BR: 1, B: 1, STRONG: 1, I: 1, EM: 1, U: 1, A: 1, UL: 1, OL: 1, LI: 1 };
  function richNodes(value) {
    var doc = new DOMParser().parseFromString("<body>" + String(value == null ? "" : value) + "</body>", "text/html");
    function rebuild(node, into) {
      node.childNodes.forEach(function (child) {
        if (child.nodeType === 3) into.appendChild(document.createTextNode(child.nodeValue));
        else if (child.nodeType !== 1) return;
        else if (!RICH_TAGS[child.tagName]) {
          if (child.tagName !== "SCRIPT" && child.tagName !== "STYLE") rebuild(child, into);
        } else {
          var copy = document.createElement(child.tagName.toLowerCase());
          if (child.tagName === "A") {
            var href = child.getAttribute("href") || "";
            if (/^https?:\/\//i.test(href)) copy.setAttribute("href", href);
            copy.setAttribute("target", "_blank");
            copy.setAttribute("rel", "noopener noreferrer nofollow");
          }
          rebuild(child, copy);
          into.appendChild(copy);
        }
      });
      return into;
    }
    return rebuild(doc.body, document.createDocumentFragment());
  }

  /** A timeline line of a conversation (a message of kind "event"), worded in the reader's language. */
  function eventText(code, meta) {
    var name = function (agent) {
      return agent && agent.name ? agent.name : t("an agent");
    };
    switch (code) {
      case "taken":
        return t("{name} took the conversation", { name: name(meta.agent) });
      case "assigned":
        return t("{name} is now serving", { name: name(meta.agent) });
      case "transferred":
        return meta.from
          ? t("{from} transferred the conversation to {to}", { from: name(meta.from), to: name(meta.to) })
          : t("The conversation was given to {to}", { to: name(meta.to) });
      case "closed":
        if (meta.by === "visitor") return t("The visitor ended the conversation");
        if (meta.by === "system") return t("The conversation was closed after a period of inactivity");
        return t("{name} closed the conversation", { name: name(meta.agent) });
      case "reopened":
        return t("{name} reopened the conversation", { name: name(meta.agent) });
      default:
        return code;
    }
  }

  /** One-line preview of a message for lists and notifications. */
  function previewText(content) {
    var text = content == null ? "" : String(content);
    if (/^img\[[^\]]*\]$/.test(text)) return "[" + t("Image") + "]";
    if (/^attachment\[/.test(text)) {
      var f = /"name"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
      var name = "";
      try {
        name = f ? JSON.parse('"' + f[1] + '"') : "";
      } catch (e) {
        name = "";
      }
      return "[" + t("File") + "] " + name;
    }
    if (/^product\[/.test(text)) {
      var m = /"title"\s*:\s*"([^"]*)"/.exec(text);
      return "[" + t("Product") + "] " + (m ? m[1] : "");
    }
    return text.replace(/\s+/g, " ").trim();
  }

  // ---------------------------------------------------------------------------------------------
  // Reconnecting websocket with backoff + jitter and a heartbeat
  // ---------------------------------------------------------------------------------------------

  var CLOSE_UNAUTHENTICATED = 4401;
  var CLOSE_FORBIDDEN = 4403;
  var CLOSE_TOO_MANY = 4429; // too many sockets of this visitor, agent or network: retry, but slowly

  /**
   * opts: url() -> string; onOpen(); onFrame(type, data); onStatus("connecting"|"open"|"waiting"|"offline"|"stopped");
   * onUnauthenticated() (close 4401: the caller logs in again, then calls connect());
   * onForbidden(lastError) (close 4403: never reconnect).
   */
  function Socket(opts) {
    this.opts = opts;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.stopped = false;
    this.lastFrameAt = 0;
    this.lastError = null;
    this.status = "idle";
    var self = this;
    global.addEventListener("online", function () {
      self.connectNow();
    });
    global.addEventListener("offline", function () {
      // The socket is dead in all but name; drop it now rather than waiting for TCP to notice.
      if (self.ws) self._drop(1006);
      self._setStatus("offline");
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "visible") return;
      if (!self.ws) self.connectNow();
      else self.send("ping", {}); // a tab back from the background checks its socket at once
    });
  }

  Socket.PING_INTERVAL = 20000;
  Socket.DEAD_AFTER = 45000;

  Socket.prototype._setStatus = function (status) {
    if (this.status === status) return;
    this.status = status;
    if (this.opts.onStatus) this.opts.onStatus(status);
  };

  Socket.prototype.isOpen = function () {
    return !!this.ws && this.ws.readyState === 1;
  };

  Socket.prototype.connectNow = function () {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.connect();
  };

  Socket.prototype.connect = function () {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    var self = this;
    var ws;
    try {
      ws = new WebSocket(this.opts.url());
    } catch (e) {
      this._schedule();
      return;
    }
    this.ws = ws;
    this._setStatus("connecting");
    ws.onopen = function () {
      if (self.ws !== ws) return;
      self.lastFrameAt = Date.now();
      self._setStatus("open");
      self._startHeartbeat();
      if (self.opts.onOpen) self.opts.onOpen();
    };
    ws.onmessage = function (event) {
      if (self.ws !== ws) return;
      self.lastFrameAt = Date.now();
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame.type !== "string") return;
      if (frame.type === "ready") self.attempt = 0; // a full handshake: the next drop starts backoff afresh
      if (frame.type === "error" && frame.data) self.lastError = frame.data;
      if (frame.type === "pong") return;
      self.opts.onFrame(frame.type, frame.data || {});
    };
    ws.onclose = function (event) {
      if (self.ws !== ws) return;
      self._closed(event.code);
    };
    ws.onerror = function () {
      /* onclose follows */
    };
  };

  Socket.prototype._drop = function (code) {
    var ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch (e) {
      /* ignore */
    }
    this._closed(code);
  };

  Socket.prototype._closed = function (code) {
    this.ws = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.opts.onDown) this.opts.onDown(code);
    if (code === CLOSE_FORBIDDEN) {
      this.stopped = true;
      this._setStatus("stopped");
      if (this.opts.onForbidden) this.opts.onForbidden(this.lastError);
      return;
    }
    if (code === CLOSE_UNAUTHENTICATED && this.opts.onUnauthenticated) {
      this._setStatus("waiting");
      this.attempt++;
      this.opts.onUnauthenticated(this.lastError);
      return;
    }
    this._schedule(code === CLOSE_TOO_MANY ? 10000 : 500);
  };

  Socket.prototype._schedule = function (base) {
    if (this.stopped || this.timer) return;
    var offline = global.navigator && global.navigator.onLine === false;
    this._setStatus(offline ? "offline" : "waiting");
    var delay = backoffDelay(this.attempt, base || 500, offline ? 30000 : Math.max(15000, base || 0));
    this.attempt = Math.min(this.attempt + 1, 10);
    var self = this;
    this.timer = setTimeout(function () {
      self.timer = null;
      self.connect();
    }, delay);
  };

  /** After a 4401, the owner logs in again and calls this, with backoff so a broken login cannot spin. */
  Socket.prototype.reconnectLater = function () {
    this._schedule();
  };

  Socket.prototype._startHeartbeat = function () {
    var self = this;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(function () {
      if (!self.ws) return;
      if (Date.now() - self.lastFrameAt > Socket.DEAD_AFTER) {
        self._drop(1006);
        return;
      }
      self.send("ping", {});
    }, Socket.PING_INTERVAL);
  };

  Socket.prototype.send = function (type, data) {
    if (!this.isOpen()) return false;
    try {
      this.ws.send(JSON.stringify({ type: type, data: data || {} }));
      return true;
    } catch (e) {
      return false;
    }
  };

  Socket.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this._drop(1000);
  };

  // ---------------------------------------------------------------------------------------------
  // Outbox: every outgoing message until the server acknowledges it, persisted in localStorage
  // ---------------------------------------------------------------------------------------------

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

  // ---------------------------------------------------------------------------------------------
  // Attachments: images (thumbnail, click to view) and files (a card to download); uploads with
  // progress and retries, whose message then goes through the outbox like any other
  // ---------------------------------------------------------------------------------------------

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
      var message = body && body.error && typeof body.error.message === "string" ? body.error.message : t("The upload failed.");
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

  /** Updates an uploading message's bar in place (no re-render per progress event). */
  ThreadView.prototype.progress = function (rec) {
    var node = this.nodes[rec.key];
    var bar = node && node.querySelector(".att-progress__bar");
    if (bar) bar.style.width = Math.round((rec.progress || 0) * 100) + "%";
    var meter = node && node.querySelector(".att-progress");
    if (meter) meter.setAttribute("aria-valuenow", String(Math.round((rec.progress || 0) * 100)));
  };

  // ---------------------------------------------------------------------------------------------
  // Emoji picker: unicode only, no images
  // ---------------------------------------------------------------------------------------------

  var EMOJI = [
    ["Smileys", "😀 😃 😄 😁 😆 😅 🤣 😂 🙂 😉 😊 😇 🥰 😍 🤩 😘 😋 😛 😜 🤪 🤗 🤭 🤔 🤐 😐 😑 😶 😏 😒 🙄 😬 😌 😔 😪 😴 😷 🤒 🤕 🥵 🥶 😵 🤯 🥳 😎 🤓 🧐 😕 😟 🙁 😮 😯 😲 😳 🥺 😦 😧 😨 😰 😥 😢 😭 😱 😖 😣 😞 😓 😩 😫 🥱 😤 😡 😠"],
    ["Gestures", "👍 👎 👌 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ ✋ 🤚 🖐️ 🖖 👋 👏 🙌 👐 🤲 🤝 🙏 ✍️ 💪 🙇 🙋 🤷 🤦"],
    ["Symbols", "❤️ 🧡 💛 💚 💙 💜 🖤 🤍 💔 💯 💢 💥 💫 💦 💨 💬 💭 🔥 ✨ ⭐ 🌟 🎉 🎊 🎁 🏆 ✅ ❌ ❓ ❗ ⚠️ ⏰ 📦 🛒 💰 💳 📞 📱 💻 📧 📍 🚚 ☕ 🍵 🌹 🌈 ☀️ 🌙"],
  ];

  /** Toggles a popover grid under `button`; picking inserts the emoji at the textarea's caret. */
  function EmojiPicker(button, textarea, onPick) {
    var panel = el("div", { className: "emoji-panel", attrs: { role: "dialog", "aria-label": t("Emoji"), hidden: true } });
    EMOJI.forEach(function (group) {
      panel.appendChild(el("div", { className: "emoji-panel__title", text: t(group[0]) }));
      var grid = el("div", { className: "emoji-panel__grid" });
      group[1].split(" ").forEach(function (emoji) {
        grid.appendChild(
          el("button", {
            className: "emoji-panel__item",
            text: emoji,
            attrs: { type: "button", title: emoji, "aria-label": emoji },
            on: {
              click: function () {
                insertAtCaret(textarea, emoji);
                if (onPick) onPick(emoji);
              },
            },
          })
        );
      });
      panel.appendChild(grid);
    });
    button.parentNode.appendChild(panel);
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }
    button.addEventListener("click", function (e) {
      e.stopPropagation();
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
    });
    document.addEventListener("click", function (e) {
      if (!panel.hidden && !panel.contains(e.target) && e.target !== button) close();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) {
        close();
        textarea.focus();
      }
    });
    return { close: close, panel: panel };
  }

  function insertAtCaret(textarea, text) {
    var start = textarea.selectionStart != null ? textarea.selectionStart : textarea.value.length;
    var end = textarea.selectionEnd != null ? textarea.selectionEnd : start;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    var pos = start + text.length;
    textarea.focus();
    try {
      textarea.setSelectionRange(pos, pos);
    } catch (e) {
      /* ignore */
    }
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ---------------------------------------------------------------------------------------------
  // Composer: Enter sends, Shift+Enter newline, IME-safe, auto-growing, throttled typing hints
  // ---------------------------------------------------------------------------------------------

  /** opts: onSend(text) -> bool (false keeps the text), onTyping(draft), maxLength. */
  function Composer(textarea, sendButton, opts) {
    this.textarea = textarea;
    var lastTyping = 0, trailing = null;
    function typing() {
      if (!opts.onTyping) return;
      var now = Date.now();
      clearTimeout(trailing);
      if (now - lastTyping >= 1000) {
        lastTyping = now;
        opts.onTyping(textarea.value);
      } else {
        // The last keystroke is always reported, so the other side's preview ends on the real draft.
        trailing = setTimeout(function () {
          lastTyping = Date.now();
          opts.onTyping(textarea.value);
        }, 1000 - (now - lastTyping));
      }
    }
    function grow() {
      textarea.style.height = "auto";
      textarea.style.height = Math.min(textarea.scrollHeight, 160) + "px";
      sendButton.disabled = !textarea.value.trim();
    }
    function send() {
      var text = textarea.value.trim();
      if (!text) return;
      if (opts.maxLength && text.length > opts.maxLength) {
        if (opts.onTooLong) opts.onTooLong(text.length);
        return;
      }
      if (opts.onSend(text) === false) return;
      textarea.value = "";
      clearTimeout(trailing);
      grow();
      textarea.focus();
    }
    textarea.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || e.keyCode === 229) return; // Enter that confirms a Chinese IME candidate
      e.preventDefault();
      send();
    });
    textarea.addEventListener("input", function () {
      grow();
      typing();
    });
    sendButton.addEventListener("click", send);
    this.send = send;
    this.grow = grow;
    grow();
  }

  // ---------------------------------------------------------------------------------------------
  // Sounds
  // ---------------------------------------------------------------------------------------------

  var sounds = {};
  var lastPlayed = 0;
  function playSound(url) {
    if (store.get("gofly.muted") === "1") return;
    var now = Date.now();
    if (now - lastPlayed < 800) return; // a burst of messages rings once
    lastPlayed = now;
    try {
      var audio = sounds[url] || (sounds[url] = new Audio(url));
      audio.currentTime = 0;
      var p = audio.play();
      if (p && p.catch) p.catch(function () { /* autoplay blocked until the user interacts */ });
    } catch (e) {
      /* no audio */
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Title flashing for unread messages while the tab is in the background
  // ---------------------------------------------------------------------------------------------

  function TitleFlasher(base) {
    this.base = base;
    this.count = 0;
    this.timer = null;
    this.on = false;
    var self = this;
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") self.stopFlash();
    });
  }
  TitleFlasher.prototype.set = function (count, flash) {
    this.count = count;
    if (flash && count > 0 && document.visibilityState === "hidden") this.startFlash();
    if (count <= 0) this.stopFlash();
    this._apply();
  };
  TitleFlasher.prototype._apply = function () {
    var prefix = this.count > 0 ? "(" + this.count + ") " : "";
    document.title = this.on ? "【" + t("New message") + "】" + this.base : prefix + this.base;
  };
  TitleFlasher.prototype.startFlash = function () {
    if (this.timer) return;
    var self = this;
    this.timer = setInterval(function () {
      self.on = !self.on;
      self._apply();
    }, 1000);
  };
  TitleFlasher.prototype.stopFlash = function () {
    clearInterval(this.timer);
    this.timer = null;
    this.on = false;
    this._apply();
  };

  // ---------------------------------------------------------------------------------------------

  Object.assign(GoFly, {
    uuid: uuid,
    el: el,
    t: t,
    setStrings: function (dict) {
      strings = Object.assign(strings, dict || {});
    },
    readJSONScript: readJSONScript,
    /** What templates/chat/_boot.html handed the page: loads the strings, returns {cfg, assets}. */
    boot: function () {
      GoFly.setStrings(readJSONScript("gofly-i18n", {}));
      GoFly.setStrings(readJSONScript("gofly-i18n-page", {}));
      return { cfg: readJSONScript("gofly-config", {}), assets: readJSONScript("gofly-assets", {}) };
    },
    store: store,
    cookie: cookie,
    api: api,
    errorText: errorText,
    wsURL: wsURL,
    backoffDelay: backoffDelay,
    formatTime: formatTime,
    formatDateTime: formatDateTime,
    formatShort: formatShort,
    toDate: toDate,
    renderContent: renderContent,
    richNodes: richNodes,
    previewText: previewText,
    eventText: eventText,
    safeURL: safeURL,
    Socket: Socket,
    Outbox: Outbox,
    Thread: Thread,
    ThreadView: ThreadView,
    EmojiPicker: EmojiPicker,
    Uploader: Uploader,
    composerFiles: composerFiles,
    viewer: viewer,
    humanSize: humanSize,
    Composer: Composer,
    playSound: playSound,
    TitleFlasher: TitleFlasher,
    CLOSE_UNAUTHENTICATED: CLOSE_UNAUTHENTICATED,
    CLOSE_FORBIDDEN: CLOSE_FORBIDDEN,
  });
})(window);
