/* GoFly console: the agent socket: what each server frame does to the console. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var t = G.t;
  var assets = C.assets;
  var me = C.me;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var threads = C.threads;
  var conversations = C.conversations;
  var liveOf = C.liveOf;
  var roster = C.roster;
  var transferNotes = C.transferNotes;
  var noteFetched = C.noteFetched;
  var lastReadSent = C.lastReadSent;
  var title = C.title;
  var threadFor = C.threadFor;
  var vname = C.vname;
  var senderOf = C.senderOf;
  var totalUnread = C.totalUnread;
  var upsertVisitor = C.upsertVisitor;
  var describeDevice = C.describeDevice;
  var isLive = C.isLive;
  var isMine = C.isMine;
  var alerting = C.alerting;
  var upsertConversation = C.upsertConversation;
  var forgetConversation = C.forgetConversation;
  var previewOf = C.previewOf;
  var refresh = C.refresh;
  var TYPING_TTL = 6000;

  var deferredReads = []; // `read` events that came while a reconnect's sync was under way
  function applyRead(data) {
    var v = visitors[data.visitor_id];
    if (!v) return;
    var thread = threads[data.visitor_id];
    var lastVisitorId = thread ? thread.maxId("visitor") : 0;
    if (v.last_message && v.last_message.sender === "visitor") lastVisitorId = Math.max(lastVisitorId, v.last_message.id);
    if (data.up_to >= lastVisitorId) v.unread = 0;
    else if (thread) {
      v.unread = Math.min(
        v.unread,
        thread.records.filter(function (r) {
          return r.sender === "visitor" && r.id > data.up_to;
        }).length
      );
    }
    if (data.up_to > (lastReadSent[data.visitor_id] || 0)) lastReadSent[data.visitor_id] = data.up_to;
    C.scheduleList();
  }

  var handlers = {
    ready: function (data) {
      if (data.agent) Object.assign(me, data.agent);
      Object.keys(roster).forEach(function (id) {
        delete roster[id];
      });
      (data.agents || []).forEach(function (a) {
        roster[a.id] = a;
      });
      C.renderTeam();
      // Every live conversation of the enterprise; one held live that is not among them changed while
      // this socket was away (closed, cleared): ask what it is now.
      var listed = {};
      (data.conversations || []).forEach(function (c) {
        listed[c.id] = true;
        upsertConversation(c);
      });
      Object.keys(conversations).forEach(function (id) {
        var c = conversations[id];
        if (isLive(c) && !listed[c.id]) {
          if (liveOf[c.visitor_id] === c.id) delete liveOf[c.visitor_id];
          if (data.conversations_more && !(c.assignee && c.assignee.id === me.id)) {
            // Left out of a bounded `ready` (the agent's own are always in it): back when its tab is opened.
            forgetConversation(c.id);
            return;
          }
          c.status = "closed"; // until the answer says more
          C.fetchConversation(c.id);
        }
      });
      C.countUnseen(data.counts);
      var online = {};
      (data.visitors || []).forEach(function (s) {
        online[s.visitor_id] = true;
        upsertVisitor(s).online = true;
      });
      Object.keys(visitors).forEach(function (vid) {
        if (!online[vid]) visitors[vid].online = false;
      });
      if (!state.readyOnce) {
        state.readyOnce = true;
        state.cursor = Math.max(state.cursor, data.last_message_id || 0);
        C.outbox.setReady(true);
      } else {
        C.outbox.setReady(false);
        state.syncing = true;
        socket.send("sync", { after: state.cursor });
      }
      // The summaries still count what this agent read but could not report; report it now.
      Object.keys(C.pendingReads).forEach(function (vid) {
        if (visitors[vid] && visitors[vid].last_message && visitors[vid].last_message.id <= C.pendingReads[vid]) {
          visitors[vid].unread = 0;
        }
      });
      C.flushReads();
      if (state.selected) {
        C.renderChatHeader();
        C.markRead(state.selected);
      }
      C.loadClosed(false); // its count, and what closed while away
      refresh();
    },
    history: function (data) {
      var fresh = [];
      (data.messages || []).forEach(function (m) {
        if (C.mergeMessage(m)) fresh.push(m);
      });
      fresh.forEach(function (m) {
        C.onNewVisitorMessage(m, false);
      });
      var missed = fresh.filter(function (m) {
        return !C.inView(m.visitor_id) && alerting(C.conversationOf(m));
      });
      if (missed.length) {
        // Messages that came while the socket was down: one ring and one notification for the lot.
        var lastMissed = missed[missed.length - 1];
        var who = visitors[lastMissed.visitor_id];
        G.playSound(assets.sound_message);
        title.set(totalUnread(), true);
        C.desktopNotify(
          missed.length === 1 ? t("{name} says", { name: who ? who.name : t("Visitor") }) : t("{n} new messages", { n: missed.length }),
          G.previewText(lastMissed.content).slice(0, 140),
          lastMissed.visitor_id,
          "missed"
        );
      }
      if (state.selected) C.view.render();
      C.scheduleList();
      if (data.more) {
        socket.send("sync", { after: state.cursor });
        return;
      }
      C.outbox.setReady(true);
      state.syncing = false;
      deferredReads.splice(0).forEach(applyRead);
    },
    "message.new": function (msg) {
      var fresh = C.mergeMessage(msg);
      if (fresh) C.onNewVisitorMessage(msg, true);
      if (msg.visitor_id === state.selected) {
        if (msg.sender === "visitor") C.renderChatHeader();
        C.view.render();
      }
      C.scheduleList();
    },
    "message.ack": function (data) {
      var item = C.outbox.resolve(data.client_id);
      if (!item) return;
      var thread = threadFor(item.visitor_id);
      if (thread.findClient(senderOf(item), data.client_id)) {
        thread.merge({ id: data.id, client_id: data.client_id, sender: senderOf(item), created_at: data.created_at });
        if (data.id > state.cursor) state.cursor = data.id;
        if (state.selected === item.visitor_id) C.view.render();
      }
    },
    "visitor.online": function (summary) {
      var before = visitors[summary.visitor_id];
      var arrival = !before || !before.online;
      var recentlyHere = before && before.offlineAt && Date.now() - before.offlineAt < 60000;
      var v = upsertVisitor(summary);
      v.online = true;
      if (arrival && !recentlyHere) {
        G.playSound(assets.sound_arrival);
        if (document.visibilityState === "hidden") title.set(totalUnread(), true);
        var where = [v.city, describeDevice(v)].filter(Boolean).join(" · ");
        C.desktopNotify(t("New visitor: {name}", { name: vname(v) }), where || v.landing_page || "", v.visitor_id, "arrival-" + v.visitor_id);
      }
      if (state.selected === v.visitor_id) {
        C.renderChatHeader();
        C.renderInfo();
      }
      C.scheduleList();
    },
    "visitor.page": function (data) {
      // The visitor opened a page of the operator's site (the widget's page trail): newest first.
      var v = visitors[data.visitor_id];
      if (!v || !data.page) return;
      v.pages = C.mergePages(v.pages, [data.page]);
      if (state.selected === v.visitor_id) C.renderInfo();
    },
    "visitor.offline": function (data) {
      var v = visitors[data.visitor_id];
      if (!v) return;
      v.online = false;
      v.offlineAt = Date.now();
      v.typing = "";
      if (state.selected === v.visitor_id) {
        C.renderChatHeader();
        C.renderInfo();
      }
      C.scheduleList();
    },
    typing: function (data) {
      var v = visitors[data.visitor_id];
      if (!v || data.sender !== "visitor") return;
      v.typing = (data.content || "").trim();
      v.typingUntil = Date.now() + TYPING_TTL;
      clearTimeout(v.typingTimer);
      v.typingTimer = setTimeout(function () {
        v.typing = "";
        C.scheduleList();
        if (state.selected === v.visitor_id) C.renderChatHeader();
      }, TYPING_TTL);
      if (state.selected === v.visitor_id) C.renderChatHeader();
      C.scheduleList();
    },
    read: function (data) {
      // The rest of a partly read conversation is counted from its thread, which lacks what the sync
      // is still bringing (the ready's summary already counts it): such a read waits for the sync.
      if (state.syncing) deferredReads.push(data);
      else applyRead(data);
    },
    agents: function () {},
    "visitor.read": function (data) {
      var thread = threads[data.visitor_id];
      if (!thread) return;
      thread.seenUpTo = Math.max(thread.seenUpTo || 0, data.up_to || 0);
      thread.records.forEach(function (rec) {
        if (rec.sender === "agent" && rec.id != null && rec.id <= thread.seenUpTo) rec.state = "read";
      });
      if (state.selected === data.visitor_id) C.view.render();
    },
    "conversation.updated": function (data) {
      var incoming = data.conversation;
      if (!incoming) return;
      if (!conversations[incoming.id] && data.change !== "opened") {
        // One a bounded `ready` left out: it was live (in All open, and in the queue if now taken), and
        // from now on this console counts it itself.
        state.unseen.open = Math.max(0, state.unseen.open - 1);
        if (data.change === "taken" || data.change === "assigned") state.unseen.queue = Math.max(0, state.unseen.queue - 1);
      }
      var c = upsertConversation(incoming, data.change);
      var v = visitors[c.visitor_id];
      var name = v ? vname(v) : t("Visitor");
      if (data.change === "opened" && c.status === "waiting" && !C.inView(c.visitor_id)) {
        G.playSound(assets.sound_arrival);
        title.set(totalUnread(), true);
        C.desktopNotify(t("{name} is waiting", { name: name }), t("A new conversation is in the queue."), c.visitor_id, "msg-" + c.visitor_id);
      } else if (data.change === "assigned" && isMine(c)) {
        G.playSound(assets.sound_arrival);
        C.desktopNotify(t("{name} is now yours", { name: name }), previewOf(v && v.last_message, c.visitor_id), c.visitor_id, "msg-" + c.visitor_id);
      }
      refresh();
    },
    "conversation.transferred": function (data) {
      var c = upsertConversation(data.conversation);
      if (!c) return;
      transferNotes[c.id] = { from: data.from, note: data.note || "" };
      noteFetched[c.id] = true;
      var v = visitors[c.visitor_id];
      G.playSound(assets.sound_arrival);
      title.set(totalUnread(), true);
      C.desktopNotify(
        t("{from} transferred {name} to you", { from: data.from ? data.from.name : t("an agent"), name: v ? vname(v) : t("Visitor") }),
        data.note || previewOf(v && v.last_message, c.visitor_id),
        c.visitor_id,
        "msg-" + c.visitor_id
      );
      C.showToast(t("{from} transferred {name} to you", { from: data.from ? data.from.name : t("an agent"), name: v ? vname(v) : t("Visitor") }));
      refresh();
    },
    "agent.status": function (data) {
      roster[data.id] = data;
      if (data.id === me.id) me.status = data.chosen;
      C.renderTeam();
      if (dom.transfer.open) C.renderTransferAgents();
    },
    "visitor.cleared": function (data) {
      C.clearVisitor(data.visitor_id);
    },
    ok: function (data) {
      C.finishAction(data.ref, { ok: true, data: data });
    },
    error: function (data) {
      if (data.ref && C.finishAction(data.ref, { ok: false, code: data.code, message: data.message })) return;
      if (data.ref && C.outbox.get(data.ref)) C.outbox.error(data.ref, data.code, data.message);
    },
  };

  var CONN_LABELS = {
    open: "Connected",
    connecting: "Connecting…",
    waiting: "Reconnecting…",
    offline: "Offline",
    stopped: "Disconnected",
  };
  var socket = new G.Socket({
    url: function () {
      return G.wsURL("/ws/agent");
    },
    onFrame: function (type, data) {
      if (handlers[type]) handlers[type](data);
      for (var i = 0; i < C.frameListeners.length; i++) C.frameListeners[i](type, data);
    },
    onStatus: function (status) {
      dom.conn.dataset.state = status;
      dom.connText.textContent = t(CONN_LABELS[status] || status);
    },
    onDown: function () {
      C.outbox.setReady(false);
      // Whether the server did them is told by the next `ready` and its events, not by an answer.
      Object.keys(C.pendingActions).forEach(function (ref) {
        C.finishAction(ref, { ok: false, code: "disconnected", message: t("The connection dropped before the server answered; the list shows what happened once it is back.") });
      });
    },
    onUnauthenticated: function () {
      window.location.href = "/login?next=" + encodeURIComponent("/console");
    },
    onForbidden: function (err) {
      dom.fatal.hidden = false;
      dom.fatalText.textContent = (err && err.message) || t("The console cannot connect from this address.");
    },
  });

  Object.assign(C, {
    handlers: handlers,
    socket: socket,
  });
})(window.GoFlyConsole);
