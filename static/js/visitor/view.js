/* GoFly visitor page, part 3: what it shows: the thread, its header, connection and typing banners, a refusal. */
(function (V, G) {
  "use strict";

  var el = G.el;
  var t = G.t;
  var cfg = V.cfg;
  var dom = V.dom;
  var state = V.state;

  var thread = new G.Thread();
  /** The thread shown: replaced (resetThread) when the page becomes another visitor. */
  V.thread = function () {
    return thread;
  };
  V.title = new G.TitleFlasher(document.title);

  var loadMoreButton = el("button", {
    className: "load-more",
    text: t("Load earlier messages"),
    attrs: { type: "button" },
    on: {
      click: function () {
        V.loadOlder();
      },
    },
  });

  function leading() {
    if (thread.more) {
      loadMoreButton.disabled = state.loadingOlder;
      loadMoreButton.textContent = state.loadingOlder ? t("Loading…") : t("Load earlier messages");
      return [loadMoreButton];
    }
    if (thread.loaded && thread.records.length) {
      return [el("div", { className: "thread-start", text: t("This is the beginning of your conversation") })];
    }
    return [];
  }

  /** The welcome, under the first day's divider: it opens the conversation (not while older pages wait). */
  function underDivider() {
    // Every welcome text (replies), in order; a server without them sends only `welcome`.
    var texts = state.welcomes && state.welcomes.length ? state.welcomes : state.welcome ? [state.welcome] : [];
    if (thread.more || !texts.length) return [];
    return texts.map(function (text, i) {
      var bubble = el("div", { className: "bubble bubble--rich" });
      if (state.welcomes && state.welcomes.length) bubble.appendChild(G.richNodes(text));
      else bubble.textContent = V.plainText(text);
      return el("div", { className: "msg msg--in msg--agent msg--welcome", attrs: i ? {} : { id: "welcome" } }, [
        el("img", { className: "msg__avatar", attrs: { src: V.agentAvatar(state.agent), alt: "", width: 32, height: 32 } }),
        el("div", { className: "msg__body" }, [
          el("div", { className: "msg__meta" }, [
            el("span", { className: "msg__name", text: (state.agent && state.agent.name) || cfg.enterprise_name || "" }),
          ]),
          bubble,
        ]),
      ]);
    });
  }

  // Timeline lines as the visitor reads them: about "you", not about "the visitor".
  function eventText(code, meta) {
    var name = function (agent) {
      return agent && agent.name ? agent.name : t("an agent");
    };
    switch (code) {
      case "taken":
      case "assigned":
        return t("{name} is now serving you", { name: name(meta.agent) });
      case "transferred":
        return t("You were transferred to {to}", { to: name(meta.to) });
      case "closed":
        if (meta.by === "visitor") return t("You ended the conversation");
        if (meta.by === "agent") return t("{name} ended the conversation", { name: name(meta.agent) });
        return G.eventText(code, meta);
      default:
        return G.eventText(code, meta);
    }
  }

  var view = (V.view = new G.ThreadView(dom.list, {
    self: "visitor",
    eventText: eventText,
    avatar: function (rec) {
      return rec.sender === "visitor" ? V.visitorAvatar() : V.agentAvatar(rec.agent || state.agent);
    },
    name: function (rec) {
      return rec.sender === "agent" ? (rec.agent && rec.agent.name) || t("Agent") : "";
    },
    onRetry: function (rec) {
      V.uploader.retry(rec.client_id);
    },
    onDiscard: function (rec) {
      V.uploader.discard(rec.client_id);
      V.outbox.discard(rec.client_id);
      thread.remove(rec);
      view.render();
    },
    leading: leading,
    underDivider: underDivider,
  }));

  /** A new visitor (a login as someone else): their thread, with only what is still on its way. */
  V.resetThread = function () {
    var pending = thread.records.filter(function (r) {
      return r.id == null;
    });
    thread = new G.Thread();
    pending.forEach(function (r) {
      thread.merge(r, r.state);
    });
    view.show(thread);
  };

  // --- the header, and what shows around the thread ------------------------------------------------

  V.renderHeader = function () {
    var conversation = state.conversation;
    var live = V.live(conversation);
    var waiting = !state.expired && !!conversation && conversation.status === "waiting";
    // Who serves the visitor: the assignee of their open conversation; while they wait, nobody yet;
    // otherwise the agent they asked for or who answered them last.
    var agent = state.agent;
    if (waiting) agent = null;
    else if (conversation && conversation.status === "open" && conversation.assignee) agent = conversation.assignee;
    dom.agentAvatar.src = V.agentAvatar(agent);
    dom.agentName.textContent = (agent && agent.name) || cfg.enterprise_name || t("Customer service");
    V.embed.agent(dom.agentName.textContent, dom.agentAvatar.src, state.agentsOnline == null ? null : state.agentsOnline > 0);
    // Without a named agent the title already is the enterprise's name.
    dom.ent.hidden = !agent || !cfg.enterprise_name;
    var online = state.agentsOnline;
    if (waiting) {
      dom.status.dataset.state = "waiting";
      dom.statusText.textContent = conversation.queue_position
        ? t("You are number {n} in the queue", { n: conversation.queue_position })
        : t("Waiting for an agent…");
    } else {
      dom.status.dataset.state = online == null ? "unknown" : online > 0 ? "online" : "offline";
      dom.statusText.textContent = online == null ? "" : online > 0 ? t("Online") : t("Offline");
    }
    var expired = !!state.expired;
    dom.endChat.hidden = state.dead || expired || !live;
    dom.endChat.disabled = !!state.closing;
    dom.ended.hidden = state.dead || expired || !state.ended;
    dom.expired.hidden = !expired;
    dom.restart.hidden = state.expired !== "session";
    dom.source.hidden = state.expired !== "signature" || !dom.source.getAttribute("href");
    dom.input.disabled = state.dead || expired;
    if (state.dead || expired) dom.send.disabled = true;
    var showNotice = online === 0;
    // Nobody online and nothing live: a form above the composer to leave a message with a way to be
    // reached (the composer still works: what is written there waits in the queue too).
    dom.leave.hidden = !(showNotice && !state.dead && !expired && !live && !state.left);
    if (online) state.left = false;
    dom.leaveDone.hidden = !state.left;
    V.renderPin();
    dom.notice.hidden = !showNotice;
    if (showNotice) {
      dom.noticeText.textContent =
        V.plainText(state.offlineText) || t("No agent is online right now. Leave a message and we will reply as soon as possible.");
    }
  };

  var connTimer = null;
  V.renderConnection = function (status) {
    clearTimeout(connTimer);
    if (status === "open" || status === "idle" || status === "stopped") {
      dom.conn.hidden = true;
      return;
    }
    // A blip shorter than a second and a half is not worth a banner.
    connTimer = setTimeout(
      function () {
        if (V.socket.status === "open" || state.expired) return;
        dom.conn.hidden = false;
        dom.conn.dataset.state = status;
        dom.connText.textContent =
          status === "offline" ? t("You are offline. Messages will be sent when the connection is back.") : t("Connecting…");
      },
      status === "offline" ? 0 : 1500
    );
  };

  /** The chat cannot go on here (refused at login, or the socket was closed for good): say why. */
  V.fatal = function (message) {
    state.dead = true;
    dom.fatal.hidden = false;
    dom.fatalText.textContent = message;
    dom.input.disabled = true;
    dom.send.disabled = true;
    dom.app.classList.add("vchat--dead");
    V.closeConfirm(false);
    V.renderHeader();
  };

  var typingTimer = null;
  V.showTyping = function (name) {
    dom.typingText.textContent = t("{name} is typing…", { name: name || t("Agent") });
    dom.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(V.hideTyping, 5000);
  };
  V.hideTyping = function () {
    clearTimeout(typingTimer);
    dom.typing.hidden = true;
  };
})(window.GoFlyVisitor, window.GoFly);
