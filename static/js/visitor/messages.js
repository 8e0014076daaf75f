/* GoFly visitor page, part 4: the conversation and its messages: history, outbox, uploads, read receipts. */
(function (V, G) {
  "use strict";

  var state = V.state;
  var view = V.view;

  function heldMessages() {
    return V.thread().records.some(function (rec) {
      return rec.id != null;
    });
  }

  /** The visitor's conversation changed (ready, the `conversation` event, the answer to "End chat"). */
  V.setConversation = function (conversation, options) {
    options = options || {};
    var known = state.conversation;
    if (conversation) {
      // Ids only grow: news of an older conversation (late, from another process) changes nothing.
      if (known && conversation.id < known.id) return;
      state.conversation = conversation;
      state.ended = conversation.status === "closed";
      if (conversation.status === "open" && conversation.assignee) {
        state.agent = Object.assign({}, state.agent || {}, conversation.assignee);
      }
    } else if (options.fromReady && known && !V.live(known)) {
      // `ready` names only a conversation that is not closed: the closed one we know of still stands.
    } else {
      // None open: if the visitor has a thread, its last conversation has ended (every message belongs to
      // one), unless a message of theirs is still on its way and about to open the next.
      state.conversation = null;
      state.ended =
        heldMessages() &&
        !outbox.items.some(function (item) {
          return item.state === "pending";
        });
    }
    V.renderHeader();
  };

  // --- messages ------------------------------------------------------------------------------------

  V.mergeServer = function (msg) {
    var thread = V.thread();
    // Ours, or another tab's (whose copy in the shared outbox is then done with).
    if (msg.sender === "visitor" && msg.client_id) outbox.resolve(msg.client_id);
    var result = thread.merge(msg);
    if (msg.id != null) V.embed.chatted();
    if (msg.sender === "visitor" && msg.read_at) thread.readUpTo = Math.max(thread.readUpTo, msg.id);
    if (msg.sender === "visitor" && msg.id <= thread.readUpTo) result.rec.state = "read";
    return result;
  };

  V.markRead = function (upTo) {
    var thread = V.thread();
    thread.readUpTo = Math.max(thread.readUpTo, upTo);
    thread.records.forEach(function (rec) {
      if (rec.sender === "visitor" && rec.id != null && rec.id <= thread.readUpTo) rec.state = "read";
    });
  };

  var outbox = (V.outbox = new G.Outbox({
    key: V.OUTBOX_KEY,
    transmit: function (item) {
      return V.socket.send("message.send", outbox.frameData(item));
    },
    onChange: function (item, itemState) {
      var rec = V.thread().findClient("visitor", item.client_id);
      if (!rec) return;
      rec.state = itemState === "failed" ? "failed" : "sending";
      rec.error = item.error;
      view.render();
    },
  }));

  /** An outbox item's record in the thread, in the state the item is in. */
  function showItem(item) {
    var shown = item.state === "failed" ? "failed" : item.state === "uploading" ? "uploading" : "sending";
    var rec = V.thread().merge(outbox.record(item, "visitor"), shown).rec;
    rec.error = item.error;
    rec.fatal = !!item.fatal;
    return rec;
  }

  // Messages typed before a reload (or while offline) are shown at once and sent when we can.
  outbox.items.forEach(showItem);

  V.uploader = new G.Uploader({
    outbox: outbox,
    url: function () {
      return "/api/v1/visitor/uploads";
    },
    headers: V.authHeaders,
    ready: function () {
      return !!state.token && !state.expired;
    },
    limits: function () {
      return state.uploads;
    },
    onChange: function (item) {
      if (!outbox.get(item.client_id)) return;
      showItem(item);
      view.render();
    },
    onProgress: function (item) {
      var rec = V.thread().findClient("visitor", item.client_id);
      if (!rec) return;
      rec.progress = item.progress;
      view.progress(rec);
    },
  });

  /** Before anything is sent: a chat that had ended opens a new conversation with it. */
  function sendable() {
    if (state.dead || state.expired) return false;
    if (state.ended) {
      // This message opens a new conversation (the server's `conversation` event will say whose).
      state.ended = false;
      V.renderHeader();
    }
    return true;
  }

  V.send = function (text) {
    if (!sendable()) return false;
    showItem(outbox.add(text));
    view.render({ stick: true });
    return true;
  };

  V.sendFiles = function (files) {
    if (!sendable()) return;
    files.forEach(function (file) {
      showItem(V.uploader.add(file));
    });
    view.render({ stick: true });
  };

  // --- history -------------------------------------------------------------------------------------

  V.loadPage = function (before) {
    var url = "/api/v1/visitor/messages?limit=" + V.PAGE_SIZE + (before ? "&before=" + before : "");
    return G.api("GET", url, undefined, V.authHeaders()).then(function (res) {
      if (res.status === 401) {
        V.sessionExpired();
        return null;
      }
      if (!res.ok || !res.data) return null;
      V.thread().mergePage(res.data.messages, res.data.more, V.mergeServer);
      return res.data;
    });
  };

  V.loadOlder = function () {
    if (state.loadingOlder) return;
    state.loadingOlder = true;
    view.render({ keepTop: true });
    V.loadPage(V.thread().pageCursor).then(function () {
      state.loadingOlder = false;
      view.render({ keepTop: true });
    });
  };

  // --- read receipts: the agents see what the visitor has seen -------------------------------------

  var readSent = 0;
  var readTimer = null;
  /** Tell the agents the visitor has seen their messages, when they can: the page shown (in the widget, its
   * panel open) and the newest message in view. At most one per 300 ms. */
  V.reportRead = function () {
    if (document.visibilityState !== "visible" || !V.embed.shown() || !window.innerHeight || !view.nearBottom()) return;
    if (V.thread().maxId("agent") <= readSent || readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      var upTo = V.thread().maxId("agent");
      if (upTo > readSent && V.socket.send("read", { up_to: upTo })) readSent = upTo;
    }, 300);
  };
  window.addEventListener("resize", V.reportRead);
})(window.GoFlyVisitor, window.GoFly);
