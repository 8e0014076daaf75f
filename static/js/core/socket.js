/* GoFly chat core: Socket, the reconnecting websocket with backoff, jitter and a heartbeat. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var backoffDelay = G.backoffDelay;

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

  Object.assign(G, {
    Socket: Socket,
    CLOSE_UNAUTHENTICATED: CLOSE_UNAUTHENTICATED,
    CLOSE_FORBIDDEN: CLOSE_FORBIDDEN,
  });
})(window);
