/* GoFly visitor page, part 6: the live chat: the websocket and its frames, unseen messages, one sound per browser. */
(function (V, G) {
  "use strict";

  var cfg = V.cfg;
  var dom = V.dom;
  var state = V.state;
  var view = V.view;
  var outbox = V.outbox;
  var unseen = 0; // agents' messages that came while the visitor could not see them (notify)

  function requestSync() {
    V.socket.send("sync", { after: V.thread().maxId() });
  }

  var handlers = {
    ready: function (data) {
      if (data.visitor) state.visitor = data.visitor;
      state.agentsOnline = data.agents_online;
      if (data.welcome != null) state.welcome = data.welcome;
      if (data.offline_text != null) state.offlineText = data.offline_text;
      V.setConversation(data.conversation || null, { fromReady: true });
      V.sendPage();
      // Fetch whatever we missed before sending anything, so the outbox never resends what is stored.
      outbox.setReady(false);
      requestSync();
      V.refreshToken();
    },
    history: function (data) {
      var missed = 0;
      (data.messages || []).forEach(function (m) {
        if (V.mergeServer(m).isNew && m.sender === "agent") missed = m.id;
      });
      if (missed) notify(missed);
      view.render();
      if (data.more) requestSync();
      else {
        outbox.setReady(true);
        V.reportRead();
        V.renderPin(); // a product sent from another tab is done with here too
      }
    },
    "message.new": function (msg) {
      var result = V.mergeServer(msg);
      if (msg.sender === "agent") {
        V.hideTyping();
        if (msg.agent) {
          // The header shows whoever answers last (a transfer, a colleague stepping in).
          state.agent = Object.assign({}, state.agent || {}, { name: msg.agent.name, avatar: msg.agent.avatar });
          V.renderHeader();
        }
        if (result.isNew) notify(msg.id);
        if (result.isNew) V.embed.agentMessage(msg);
      }
      view.render();
      if (msg.sender === "agent") V.reportRead();
    },
    "message.ack": function (data) {
      outbox.resolve(data.client_id);
      V.embed.chatted(); // stored: this visitor has a thread, whether or not its echo comes
      var thread = V.thread();
      if (thread.findClient("visitor", data.client_id)) {
        thread.merge({ id: data.id, client_id: data.client_id, sender: "visitor", created_at: data.created_at });
        view.render();
      }
    },
    agents: function (data) {
      state.agentsOnline = data.online;
      V.renderHeader();
    },
    typing: function (data) {
      if (data.sender === "agent") V.showTyping(data.name);
    },
    read: function (data) {
      V.markRead(data.up_to || 0);
      view.render();
    },
    conversation: function (data) {
      V.setConversation(data.conversation || null);
    },
    ok: function (data) {
      if (state.closing && data.ref === state.closing.ref) V.closeDone(data.conversation || null);
    },
    "visitor.cleared": function (data) {
      if (state.visitor && data.visitor_id && data.visitor_id !== state.visitor.visitor_id) return;
      // Every message and conversation of the visitor is gone: show the empty thread. Messages still in
      // the outbox stay (they were never acknowledged) and open a new conversation when sent.
      V.resetThread();
      V.thread().loaded = true;
      state.conversation = null;
      state.ended = false;
      V.hideTyping();
      unseen = 0;
      V.title.set(0);
      V.renderHeader();
      view.render({ stick: true });
    },
    error: function (data) {
      // Said in the server's language: the page words it by its code (docs/protocol.md 3).
      if (data.ref && outbox.get(data.ref)) outbox.error(data.ref, data.code, G.codeText(data.code, data.message, "message"));
      if (state.closing && data.ref === state.closing.ref) {
        // The server could not do it now: try once over HTTP, which says for sure.
        if (data.code === "server_error" || data.code === "rate_limited") V.closeOverHTTP(state.closing.ref);
        else V.closeFailed();
      }
    },
  };

  // --- agents' messages the visitor has not seen ----------------------------------------------------

  /** An agent's message (the newest of a batch: `id`) the visitor may not see: the tab's title, and a sound
   * that only one of the visitor's tabs plays (soundOnce). */
  function notify(id) {
    if (document.visibilityState === "hidden" || !V.embed.shown() || !view.nearBottom()) {
      unseen++;
      V.title.set(unseen, true);
      soundOnce(id);
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && view.nearBottom()) {
      unseen = 0;
      V.title.set(0);
    }
    V.reportRead();
  });
  dom.list.addEventListener("scroll", function () {
    if (unseen && view.nearBottom() && document.visibilityState === "visible") {
      unseen = 0;
      V.title.set(0);
    }
    V.reportRead();
  });

  V.socket = new G.Socket({
    url: function () {
      // The page's language: the `ready` frame's welcome and offline texts are said in it.
      return G.wsURL(state.wsPath || "/ws/visitor", "token=" + encodeURIComponent(state.token) + (cfg.lang ? "&lang=" + encodeURIComponent(cfg.lang) : ""));
    },
    onFrame: function (type, data) {
      if (handlers[type]) handlers[type](data);
    },
    onStatus: V.renderConnection,
    onDown: function () {
      outbox.setReady(false);
    },
    onUnauthenticated: function () {
      // The token expired or its visitor is gone: a new login would be someone else, with none of this
      // thread. Say so; "Start a new chat" does it.
      V.sessionExpired();
    },
    onForbidden: function (err) {
      V.fatal(V.refusalText(err)); // e.g. blocked by an agent: said at once, in the page's language
    },
  });

  // --- one sound per browser --------------------------------------------------------------------------

  var SOUND_PREFIX = "gofly.sound." + cfg.ent_id + ".";
  var SOUND_HOLD_MS = 30000; // how long the tab that rang keeps a message's lock
  /** Every tab of the visitor (the chat page, the widget's iframes on the operator's pages) hears the same
   * message: the first to claim its id rings, the others stay quiet. Where the browser has Web Locks, the
   * claim is a lock named after the message, taken only if free and held for a while: locks are atomic
   * across tabs, while a localStorage write reaches other tabs' processes late (under load, after they
   * checked it, and the message rang twice). The stored claim covers tabs that hear it after the hold.
   * Elsewhere the stored claim is read back after a moment and only its last writer rings. (Browsers that
   * partition third-party storage share both per top-level site.) */
  function soundOnce(id) {
    var key = SOUND_PREFIX + (id || G.uuid());
    var me = G.uuid() + " " + Date.now();
    var claim = function () {
      if (G.store.get(key)) return false;
      G.store.set(key, me);
      return true;
    };
    var ring = function () {
      G.playSound(V.assets.sound_message);
      soundsPrune();
    };
    if (navigator.locks && navigator.locks.request) {
      navigator.locks
        .request(key, { ifAvailable: true }, function (lock) {
          if (!lock || !claim()) return null; // another tab holds it, or rang it earlier
          ring();
          return new Promise(function (resolve) {
            setTimeout(resolve, SOUND_HOLD_MS);
          });
        })
        .catch(function () {
          /* no lock: quiet rather than twice */
        });
    } else if (claim()) {
      setTimeout(function () {
        if (G.store.get(key) === me) ring();
      }, 40 + Math.random() * 60);
    }
  }
  function soundsPrune() {
    G.store.keys(SOUND_PREFIX).forEach(function (key) {
      var at = parseInt(String(G.store.get(key) || "").split(" ")[1], 10);
      if (!(Date.now() - at < 3600000)) G.store.remove(key);
    });
  }
  soundsPrune();
})(window.GoFlyVisitor, window.GoFly);
