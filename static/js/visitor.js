/* GoFly visitor chat page (/chatIndex): log in (resuming the stored token), history, live chat, outbox, and
 * the visitor's conversation: who serves them or their place in the queue, its end, ending it themselves. */
(function () {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var page = G.boot();
  var cfg = page.cfg;
  var assets = page.assets;

  var TOKEN_KEY = "gofly.visitor." + cfg.ent_id;
  var TOKEN_AT_KEY = TOKEN_KEY + ".at"; // when this browser got that token (ms)
  // A token lives 30 days from its issue (GOFLY_VISITOR_TOKEN_DAYS); an open page swaps it for a fresh one
  // twice a day, so that a page left open for longer still reconnects as its visitor.
  var TOKEN_REFRESH_AFTER = 12 * 3600 * 1000;
  var OUTBOX_KEY = "gofly.outbox.visitor." + cfg.ent_id;
  var PAGE_SIZE = 20;

  var $ = function (id) {
    return document.getElementById(id);
  };
  var dom = {
    app: $("vchat"),
    agentAvatar: $("agent-avatar"),
    agentName: $("agent-name"),
    status: $("agent-status"),
    statusText: $("agent-status-text"),
    ent: $("ent-name"),
    notice: $("offline-notice"),
    noticeText: $("offline-notice-text"),
    conn: $("conn-banner"),
    connText: $("conn-banner-text"),
    list: $("messages"),
    typing: $("typing"),
    typingText: $("typing-text"),
    input: $("composer-input"),
    send: $("composer-send"),
    emoji: $("composer-emoji"),
    fatal: $("fatal"),
    fatalText: $("fatal-text"),
    endChat: $("end-chat"),
    endConfirm: $("end-confirm"),
    endOk: $("end-ok"),
    endCancel: $("end-cancel"),
    endError: $("end-error"),
    endErrorText: $("end-error-text"),
    ended: $("ended-notice"),
    leave: $("leave-form"),
    leaveName: $("leave-name"),
    leaveContact: $("leave-contact"),
    leaveContent: $("leave-content"),
    leaveError: $("leave-error"),
    leaveSubmit: $("leave-submit"),
    leaveDone: $("leave-done"),
    pin: $("product-pin"),
    pinCard: $("product-pin-card"),
    pinSend: $("product-send"),
    pinDismiss: $("product-dismiss"),
    expired: $("session-expired"),
    expiredHint: $("session-expired-hint"),
    restart: $("session-restart"),
    source: $("session-source"),
  };

  var state = {
    token: G.store.get(TOKEN_KEY) || "",
    tokenAt: Number(G.store.get(TOKEN_AT_KEY)) || 0,
    // The server refused the visitor's token ("session": expired, or its visitor is gone) or the page's
    // signed identity ("signature": the link is too old): the page says so instead of becoming a new visitor.
    expired: null,
    restartReady: false, // "session" found at login: the new visitor exists already, "Start a new chat" shows it
    visitor: null,
    agent: null,
    agentsOnline: null,
    welcome: "",
    offlineText: "",
    loadingOlder: false,
    loginAttempt: 0,
    dead: false,
    // The conversation as the visitor sees it ({id, status, assignee, queue_position, closed_by}), the
    // newest one we heard of; null when there is none (the next message opens one).
    conversation: null,
    // The last conversation ended and no new one has started: say so, and that writing starts one.
    ended: false,
    closing: null, // {ref, timer}: an "End chat" on its way
    leaving: false, // a left message on its way
    left: false, // a message was left: thank the visitor until an agent comes online
    product: null, // the product the visitor's page shows ({title, price, img, url}, checked by the server)
  };
  // --- in the floating widget (static/js/gofly-front.js) -----------------------------------------
  // The host page shows our unread count on its launcher, our agent in its panel bar and a preview of
  // agents' messages: it tells us whether its panel is open ({gofly: 1, type: "open"}) and which page the
  // visitor is on ("page"); we tell it "ready", "unread", "agent", "message", "chatted" (docs/protocol.md
  // 5.14). Sent to the host page's origin when known, else to any; taken only from it and our parent.
  var embed = (function () {
    var framed = window.parent !== window;
    var target = "*";
    try {
      target = new URL(cfg.landing_page || cfg.refer).origin; // the loader passes the host page as both
      if (target === "null") target = "*";
    } catch (e) {
      target = "*";
    }
    var open = true;
    var count = 0;
    var lastAgent = "";
    var chattedSent = false;
    function post(msg) {
      if (!framed) return;
      msg.gofly = 1;
      try {
        window.parent.postMessage(msg, target);
      } catch (e) {
        /* the host went away */
      }
    }
    if (framed) {
      window.addEventListener("message", function (e) {
        var d = e.data;
        if (e.source !== window.parent || (target !== "*" && e.origin !== target) || !d || d.gofly !== 1) return;
        if (d.type === "page") return hostPage(d.url, d.title);
        if (d.type !== "open") return;
        open = !!d.open;
        if (open && count) {
          count = 0;
          post({ type: "unread", count: 0 });
          // What came while the panel was closed was laid out in a frame of no size: show the newest.
          view.scrollToBottom();
        }
        if (open) reportRead(); // what came while the panel was closed is seen now
      });
      post({ type: "ready" });
    }
    return {
      /** Whether the visitor can see the chat: always on our own page; in the widget, while its panel is open. */
      shown: function () {
        return open;
      },
      agentMessage: function (msg) {
        // Its preview, as lists word it (attachments and cards as a short label): the host shows it
        // while its panel is closed, and flashes its title while its tab is hidden.
        var who = msg.agent || {};
        var avatar = G.safeURL(who.avatar, true);
        post({
          type: "message",
          id: msg.id,
          text: G.previewText(msg.content).slice(0, 300),
          name: who.name || "",
          avatar: avatar ? new URL(avatar, window.location.href).href : "",
        });
        if (open) return;
        count++;
        post({ type: "unread", count: count });
      },
      agent: function (name, avatar, online) {
        var key = name + "\n" + avatar + "\n" + online;
        if (key === lastAgent) return;
        lastAgent = key;
        post({ type: "agent", name: name, avatar: avatar, online: online });
      },
      /** The visitor has a thread: the host loads the chat at once on their next pages. Said once, and
       * again on each page the host reports (idempotent there), in case the first word went astray. */
      chatted: function (again) {
        if (chattedSent && !again) return;
        chattedSent = true;
        post({ type: "chatted" });
      },
    };
  })();

  var thread = new G.Thread();
  var title = new G.TitleFlasher(document.title);
  var unseen = 0;

  // --- rendering -------------------------------------------------------------------------------

  function agentAvatar(agent) {
    return (agent && G.safeURL(agent.avatar, true)) || assets.agent_avatar;
  }
  function visitorAvatar() {
    return (state.visitor && G.safeURL(state.visitor.avatar, true)) || assets.visitor_avatar;
  }

  // The welcome text may be the operator's (sanitised) rich text; the page shows it as plain text.
  function plainText(value) {
    var text = value == null ? "" : String(value);
    if (!/<[a-z!/][\s\S]*>/i.test(text)) return text;
    var doc = new DOMParser().parseFromString(text.replace(/<br\s*\/?>/gi, "\n").replace(/<\/(p|div|li)>/gi, "\n"), "text/html");
    return (doc.body.textContent || "").replace(/\n{3,}/g, "\n\n").trim();
  }


  var loadMoreButton = el("button", {
    className: "load-more",
    text: t("Load earlier messages"),
    attrs: { type: "button" },
    on: { click: loadOlder },
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
      else bubble.textContent = plainText(text);
      return el("div", { className: "msg msg--in msg--agent msg--welcome", attrs: i ? {} : { id: "welcome" } }, [
        el("img", { className: "msg__avatar", attrs: { src: agentAvatar(state.agent), alt: "", width: 32, height: 32 } }),
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

  var view = new G.ThreadView(dom.list, {
    self: "visitor",
    eventText: eventText,
    avatar: function (rec) {
      return rec.sender === "visitor" ? visitorAvatar() : agentAvatar(rec.agent || state.agent);
    },
    name: function (rec) {
      return rec.sender === "agent" ? (rec.agent && rec.agent.name) || t("Agent") : "";
    },
    onRetry: function (rec) {
      uploader.retry(rec.client_id);
    },
    onDiscard: function (rec) {
      uploader.discard(rec.client_id);
      outbox.discard(rec.client_id);
      thread.remove(rec);
      view.render();
    },
    leading: leading,
    underDivider: underDivider,
  });

  function live(conversation) {
    return !!conversation && (conversation.status === "waiting" || conversation.status === "open");
  }

  function renderHeader() {
    var conversation = state.conversation;
    var waiting = !state.expired && !!conversation && conversation.status === "waiting";
    // Who serves the visitor: the assignee of their open conversation; while they wait, nobody yet;
    // otherwise the agent they asked for or who answered them last.
    var agent = state.agent;
    if (waiting) agent = null;
    else if (conversation && conversation.status === "open" && conversation.assignee) agent = conversation.assignee;
    dom.agentAvatar.src = agentAvatar(agent);
    dom.agentName.textContent = (agent && agent.name) || cfg.enterprise_name || t("Customer service");
    embed.agent(dom.agentName.textContent, dom.agentAvatar.src, state.agentsOnline == null ? null : state.agentsOnline > 0);
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
    dom.endChat.hidden = state.dead || expired || !live(conversation);
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
    dom.leave.hidden = !(showNotice && !state.dead && !expired && !live(conversation) && !state.left);
    if (online) state.left = false;
    dom.leaveDone.hidden = !state.left;
    renderPin();
    dom.notice.hidden = !showNotice;
    if (showNotice) {
      dom.noticeText.textContent =
        plainText(state.offlineText) || t("No agent is online right now. Leave a message and we will reply as soon as possible.");
    }
  }

  var connTimer = null;
  function renderConnection(status) {
    clearTimeout(connTimer);
    if (status === "open" || status === "idle" || status === "stopped") {
      dom.conn.hidden = true;
      return;
    }
    // A blip shorter than a second and a half is not worth a banner.
    connTimer = setTimeout(function () {
      if (socket.status === "open" || state.expired) return;
      dom.conn.hidden = false;
      dom.conn.dataset.state = status;
      dom.connText.textContent =
        status === "offline"
          ? t("You are offline. Messages will be sent when the connection is back.")
          : t("Connecting…");
    }, status === "offline" ? 0 : 1500);
  }

  function fatal(message) {
    state.dead = true;
    dom.fatal.hidden = false;
    dom.fatalText.textContent = message;
    dom.input.disabled = true;
    dom.send.disabled = true;
    dom.app.classList.add("vchat--dead");
    closeConfirm(false);
    renderHeader();
  }

  var typingTimer = null;
  function showTyping(name) {
    dom.typingText.textContent = t("{name} is typing…", { name: name || t("Agent") });
    dom.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 5000);
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    dom.typing.hidden = true;
  }

  // --- the conversation ------------------------------------------------------------------------

  function heldMessages() {
    return thread.records.some(function (rec) {
      return rec.id != null;
    });
  }

  /** The visitor's conversation changed (ready, the `conversation` event, the answer to "End chat"). */
  function setConversation(conversation, options) {
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
    } else if (options.fromReady && known && !live(known)) {
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
    renderHeader();
  }

  // --- messages --------------------------------------------------------------------------------

  function mergeServer(msg) {
    // Ours, or another tab's (whose copy in the shared outbox is then done with).
    if (msg.sender === "visitor" && msg.client_id) outbox.resolve(msg.client_id);
    var result = thread.merge(msg);
    if (msg.id != null) embed.chatted();
    if (msg.sender === "visitor" && msg.read_at) thread.readUpTo = Math.max(thread.readUpTo, msg.id);
    if (msg.sender === "visitor" && msg.id <= thread.readUpTo) result.rec.state = "read";
    return result;
  }

  function markRead(upTo) {
    thread.readUpTo = Math.max(thread.readUpTo, upTo);
    thread.records.forEach(function (rec) {
      if (rec.sender === "visitor" && rec.id != null && rec.id <= thread.readUpTo) rec.state = "read";
    });
  }

  var outbox = new G.Outbox({
    key: OUTBOX_KEY,
    transmit: function (item) {
      return socket.send("message.send", outbox.frameData(item));
    },
    onChange: function (item, itemState) {
      var rec = thread.findClient("visitor", item.client_id);
      if (!rec) return;
      rec.state = itemState === "failed" ? "failed" : "sending";
      rec.error = item.error;
      view.render();
    },
  });

  /** An outbox item's record in the thread, in the state the item is in. */
  function showItem(item) {
    var shown = item.state === "failed" ? "failed" : item.state === "uploading" ? "uploading" : "sending";
    var rec = thread.merge(outbox.record(item, "visitor"), shown).rec;
    rec.error = item.error;
    rec.fatal = !!item.fatal;
    return rec;
  }

  // Messages typed before a reload (or while offline) are shown at once and sent when we can.
  outbox.items.forEach(showItem);

  var uploader = new G.Uploader({
    outbox: outbox,
    url: function () {
      return "/api/v1/visitor/uploads";
    },
    headers: authHeaders,
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
      var rec = thread.findClient("visitor", item.client_id);
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
      renderHeader();
    }
    return true;
  }

  function send(text) {
    if (!sendable()) return false;
    showItem(outbox.add(text));
    view.render({ stick: true });
    return true;
  }

  function sendFiles(files) {
    if (!sendable()) return;
    files.forEach(function (file) {
      showItem(uploader.add(file));
    });
    view.render({ stick: true });
  }

  // --- HTTP ------------------------------------------------------------------------------------

  // The server's messages (errors, the default name) in the page's language, not the browser's.
  function langHeaders() {
    return cfg.lang ? { "Accept-Language": cfg.lang } : {};
  }
  function authHeaders() {
    return Object.assign({ Authorization: "Visitor " + state.token }, langHeaders());
  }

  function storeToken(token) {
    state.token = token;
    state.tokenAt = Date.now();
    G.store.set(TOKEN_KEY, token);
    G.store.set(TOKEN_AT_KEY, String(state.tokenAt));
  }

  function login(withoutExtra) {
    var body = {
      ent_id: String(cfg.ent_id),
      kefu_id: cfg.kefu_id || "",
      token: state.token || "",
      visitor_id: cfg.visitor_id || "",
      visitor_name: cfg.visitor_name || "",
      avatar: cfg.avatar || "",
      timestamp: cfg.timestamp || "",
      signature: cfg.signature || "",
      refer: cfg.refer || "",
      landing_page: cfg.landing_page || document.referrer || "",
      extra: withoutExtra ? "" : cfg.extra || "",
    };
    // No Referer header: the server would take this page's own URL for the visitor's referrer.
    return G.api("POST", "/api/v1/visitor/login", body, langHeaders(), { referrerPolicy: "no-referrer" }).then(function (res) {
      if (res.ok && res.data && res.data.token) {
        var previous = state.visitor && state.visitor.visitor_id;
        state.loginAttempt = 0;
        // The token this browser held was not taken (expired, or its visitor is gone): this is someone new.
        // A signed identity names its visitor itself, whatever token the browser held.
        if (body.token && res.data.created && !cfg.signature && !previous) {
          state.expired = "session";
          state.restartReady = true;
        }
        storeToken(res.data.token);
        state.visitor = res.data.visitor;
        state.agent = res.data.agent;
        state.agentsOnline = res.data.agents_online;
        state.welcome = (res.data.enterprise && res.data.enterprise.welcome) || "";
        state.welcomes = (res.data.enterprise && res.data.enterprise.welcomes) || null;
        state.offlineText = (res.data.enterprise && res.data.enterprise.offline_text) || "";
        state.uploads = res.data.uploads || null;
        state.wsPath = res.data.ws_path || "/ws/visitor";
        state.product = res.data.product || null;
        if (previous && previous !== state.visitor.visitor_id) resetThread();
        renderHeader();
        return true;
      }
      var code = res.data && res.data.error && res.data.error.code;
      if (res.status === 400 && code === "bad_extra" && !withoutExtra) return login(true);
      if (code === "signature_expired") {
        signatureExpired();
        return false;
      }
      if (res.status === 0 || res.status === 429 || res.status >= 500) {
        var delay = G.backoffDelay(state.loginAttempt++, 1000, 30000);
        renderConnection(navigator.onLine === false ? "offline" : "waiting");
        return new Promise(function (resolve) {
          setTimeout(resolve, delay);
        }).then(function () {
          return login(withoutExtra);
        });
      }
      fatal(G.errorText(res));
      return false;
    });
  }

  function resetThread() {
    var pending = thread.records.filter(function (r) {
      return r.id == null;
    });
    thread = new G.Thread();
    pending.forEach(function (r) {
      thread.merge(r, r.state);
    });
    view.show(thread);
  }

  function loadPage(before) {
    var url = "/api/v1/visitor/messages?limit=" + PAGE_SIZE + (before ? "&before=" + before : "");
    return G.api("GET", url, undefined, authHeaders()).then(function (res) {
      if (res.status === 401) {
        sessionExpired();
        return null;
      }
      if (!res.ok || !res.data) return null;
      thread.mergePage(res.data.messages, res.data.more, mergeServer);
      return res.data;
    });
  }

  function loadOlder() {
    if (state.loadingOlder) return;
    state.loadingOlder = true;
    view.render({ keepTop: true });
    loadPage(thread.pageCursor).then(function () {
      state.loadingOlder = false;
      view.render({ keepTop: true });
    });
  }

  // --- read receipts: the agents see what the visitor has seen -----------------------------------

  var readSent = 0;
  var readTimer = null;
  /** Tell the agents the visitor has seen their messages, when they can: the page shown (in the widget, its
   * panel open) and the newest message in view. At most one per 300 ms. */
  function reportRead() {
    if (document.visibilityState !== "visible" || !embed.shown() || !window.innerHeight || !view.nearBottom()) return;
    if (thread.maxId("agent") <= readSent || readTimer) return;
    readTimer = setTimeout(function () {
      readTimer = null;
      var upTo = thread.maxId("agent");
      if (upTo > readSent && socket.send("read", { up_to: upTo })) readSent = upTo;
    }, 300);
  }
  window.addEventListener("resize", reportRead);

  // --- the session expired: say so, and start anew only when the visitor asks -------------------------

  function sessionExpired() {
    if (state.dead || state.expired) return;
    state.expired = "session";
    dom.expiredHint.textContent = t("Your earlier messages stay with the old session; a new chat starts without them.");
    outbox.setReady(false);
    hideTyping();
    closeConfirm(false);
    renderConnection("stopped");
    renderHeader();
  }

  /** The signed link that opened the page is too old to log in again: only the operator's page can sign a
   * new one, so offer to reload it. */
  function signatureExpired() {
    state.expired = "signature";
    var source = G.safeURL(cfg.landing_page) || G.safeURL(cfg.refer) || G.safeURL(document.referrer);
    if (source) dom.source.setAttribute("href", source);
    dom.expiredHint.textContent = t("The link that opened this chat is too old. Reload the page you came from to continue.");
    closeConfirm(false);
    renderConnection("stopped");
    renderHeader();
  }

  function restart() {
    if (state.expired !== "session" || state.restarting) return;
    state.restarting = true;
    dom.restart.disabled = true;
    var ready;
    if (state.restartReady) {
      ready = Promise.resolve(true);
    } else {
      state.token = "";
      G.store.remove(TOKEN_KEY);
      G.store.remove(TOKEN_AT_KEY);
      state.expired = null; // so that this login may say "signature" instead
      ready = login().then(function (ok) {
        if (!ok && !state.expired) state.expired = "session";
        return ok;
      });
    }
    ready.then(function (ok) {
      state.restarting = false;
      dom.restart.disabled = false;
      if (!ok) return renderHeader();
      state.restartReady = false;
      state.expired = null;
      state.conversation = null;
      state.ended = false;
      renderHeader();
      loadPage().then(function () {
        view.render({ stick: true });
        renderPin();
        if (socket.ws) socket._drop(1000); // the old visitor's socket: it reconnects with the new token
        else socket.connectNow();
      });
    });
  }
  dom.restart.addEventListener("click", restart);

  function keepTokenFresh(force) {
    if (!state.token || state.expired || state.dead || state.refreshingToken) return Promise.resolve(false);
    if (!force && Date.now() - state.tokenAt < TOKEN_REFRESH_AFTER) return Promise.resolve(false);
    var token = state.token;
    state.refreshingToken = true;
    return G.api("POST", "/api/v1/visitor/token", undefined, authHeaders()).then(function (res) {
      state.refreshingToken = false;
      if (state.token !== token) return false; // logged in again meanwhile
      if (res.ok && res.data && res.data.token) {
        storeToken(res.data.token);
        return true;
      }
      if (res.status === 401 || res.status === 404) sessionExpired();
      return false; // a network error: the next check tries again
    });
  }
  setInterval(keepTokenFresh, 3600 * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") keepTokenFresh();
  });

  // --- websocket -------------------------------------------------------------------------------

  function requestSync() {
    socket.send("sync", { after: thread.maxId() });
  }

  var handlers = {
    ready: function (data) {
      if (data.visitor) state.visitor = data.visitor;
      state.agentsOnline = data.agents_online;
      if (data.welcome != null) state.welcome = data.welcome;
      if (data.offline_text != null) state.offlineText = data.offline_text;
      setConversation(data.conversation || null, { fromReady: true });
      sendPage();
      // Fetch whatever we missed before sending anything, so the outbox never resends what is stored.
      outbox.setReady(false);
      requestSync();
      keepTokenFresh();
    },
    history: function (data) {
      var missed = 0;
      (data.messages || []).forEach(function (m) {
        if (mergeServer(m).isNew && m.sender === "agent") missed = m.id;
      });
      if (missed) notify(missed);
      view.render();
      if (data.more) requestSync();
      else {
        outbox.setReady(true);
        reportRead();
        renderPin(); // a product sent from another tab is done with here too
      }
    },
    "message.new": function (msg) {
      var result = mergeServer(msg);
      if (msg.sender === "agent") {
        hideTyping();
        if (msg.agent) {
          // The header shows whoever answers last (a transfer, a colleague stepping in).
          state.agent = Object.assign({}, state.agent || {}, { name: msg.agent.name, avatar: msg.agent.avatar });
          renderHeader();
        }
        if (result.isNew) notify(msg.id);
        if (result.isNew) embed.agentMessage(msg);
      }
      view.render();
      if (msg.sender === "agent") reportRead();
    },
    "message.ack": function (data) {
      outbox.resolve(data.client_id);
      embed.chatted(); // stored: this visitor has a thread, whether or not its echo comes
      if (thread.findClient("visitor", data.client_id)) {
        thread.merge({ id: data.id, client_id: data.client_id, sender: "visitor", created_at: data.created_at });
        view.render();
      }
    },
    agents: function (data) {
      state.agentsOnline = data.online;
      renderHeader();
    },
    typing: function (data) {
      if (data.sender === "agent") showTyping(data.name);
    },
    read: function (data) {
      markRead(data.up_to || 0);
      view.render();
    },
    conversation: function (data) {
      setConversation(data.conversation || null);
    },
    ok: function (data) {
      if (state.closing && data.ref === state.closing.ref) closeDone(data.conversation || null);
    },
    "visitor.cleared": function (data) {
      if (state.visitor && data.visitor_id && data.visitor_id !== state.visitor.visitor_id) return;
      // Every message and conversation of the visitor is gone: show the empty thread. Messages still in
      // the outbox stay (they were never acknowledged) and open a new conversation when sent.
      resetThread();
      thread.loaded = true;
      state.conversation = null;
      state.ended = false;
      hideTyping();
      unseen = 0;
      title.set(0);
      renderHeader();
      view.render({ stick: true });
    },
    error: function (data) {
      if (data.ref && outbox.get(data.ref)) outbox.error(data.ref, data.code, data.message);
      if (state.closing && data.ref === state.closing.ref) {
        // The server could not do it now: try once over HTTP, which says for sure.
        if (data.code === "server_error" || data.code === "rate_limited") closeOverHTTP(state.closing.ref);
        else closeFailed();
      }
    },
  };

  /** An agent's message (the newest of a batch: `id`) the visitor may not see: the tab's title, and a sound
   * that only one of the visitor's tabs plays (soundOnce). */
  function notify(id) {
    if (document.visibilityState === "hidden" || !embed.shown() || !view.nearBottom()) {
      unseen++;
      title.set(unseen, true);
      soundOnce(id);
    }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && view.nearBottom()) {
      unseen = 0;
      title.set(0);
    }
    reportRead();
  });
  dom.list.addEventListener("scroll", function () {
    if (unseen && view.nearBottom() && document.visibilityState === "visible") {
      unseen = 0;
      title.set(0);
    }
    reportRead();
  });

  var socket = new G.Socket({
    url: function () {
      return G.wsURL(state.wsPath || "/ws/visitor", "token=" + encodeURIComponent(state.token));
    },
    onFrame: function (type, data) {
      if (handlers[type]) handlers[type](data);
    },
    onStatus: renderConnection,
    onDown: function () {
      outbox.setReady(false);
    },
    onUnauthenticated: function () {
      // The token expired or its visitor is gone: a new login would be someone else, with none of this
      // thread. Say so; "Start a new chat" does it.
      sessionExpired();
    },
    onForbidden: function (err) {
      fatal((err && err.message) || t("This chat is not available."));
    },
  });

  // --- ending the conversation -----------------------------------------------------------------

  var CLOSE_ANSWER_TIMEOUT = 8000;
  var returnFocus = null;

  function openConfirm() {
    if (state.dead || !live(state.conversation)) return;
    returnFocus = document.activeElement;
    dom.endConfirm.hidden = false;
    dom.endOk.focus();
  }
  /** Hide the dialog; `restore` gives the focus back to where it was (cancelling). */
  function closeConfirm(restore) {
    if (dom.endConfirm.hidden) return;
    dom.endConfirm.hidden = true;
    if (restore && returnFocus && returnFocus.focus) returnFocus.focus();
    returnFocus = null;
  }

  function endChat() {
    closeConfirm(false);
    if (state.closing || !live(state.conversation)) return;
    var ref = "close-" + G.uuid();
    state.closing = { ref: ref, timer: null };
    dom.endError.hidden = true;
    renderHeader();
    if (socket.send("conversation.close", { ref: ref })) {
      // No answer in time (the socket died on the way): HTTP closes it, or finds it closed.
      state.closing.timer = setTimeout(function () {
        closeOverHTTP(ref);
      }, CLOSE_ANSWER_TIMEOUT);
    } else {
      closeOverHTTP(ref);
    }
  }

  function closeOverHTTP(ref) {
    if (!state.closing || state.closing.ref !== ref) return;
    clearTimeout(state.closing.timer);
    G.api("POST", "/api/v1/visitor/conversation/close", undefined, authHeaders()).then(function (res) {
      if (!state.closing || state.closing.ref !== ref) return; // the socket answered meanwhile
      if (res.ok && res.data) {
        closeDone(res.data.conversation || null);
      } else if (res.status === 401) {
        clearTimeout(state.closing.timer);
        state.closing = null;
        sessionExpired();
      } else {
        closeFailed();
      }
    });
  }

  function closeDone(conversation) {
    if (state.closing) clearTimeout(state.closing.timer);
    state.closing = null;
    // null: nothing was open any more (the agent closed it a moment earlier).
    if (conversation) setConversation(conversation);
    else if (live(state.conversation)) setConversation(null);
    else renderHeader();
  }

  var endErrorTimer = null;
  function closeFailed() {
    if (state.closing) clearTimeout(state.closing.timer);
    state.closing = null;
    renderHeader();
    dom.endErrorText.textContent = t("Could not end the chat. Try again.");
    dom.endError.hidden = false;
    clearTimeout(endErrorTimer);
    endErrorTimer = setTimeout(function () {
      dom.endError.hidden = true;
    }, 6000);
  }

  dom.endChat.addEventListener("click", openConfirm);
  dom.endCancel.addEventListener("click", function () {
    closeConfirm(true);
  });
  dom.endOk.addEventListener("click", endChat);
  dom.endConfirm.addEventListener("click", function (e) {
    if (e.target === dom.endConfirm) closeConfirm(true); // a tap beside the box
  });
  dom.endConfirm.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      closeConfirm(true);
    } else if (e.key === "Tab") {
      // Keep the focus in the dialog: it has two buttons.
      e.preventDefault();
      (document.activeElement === dom.endOk ? dom.endCancel : dom.endOk).focus();
    }
  });

  // --- leave a message (nobody online) ---------------------------------------------------------

  function leaveMessage(e) {
    if (e) e.preventDefault();
    if (state.leaving) return;
    state.leaving = true;
    dom.leaveError.hidden = true;
    dom.leaveSubmit.disabled = true;
    dom.leaveSubmit.dataset.label = dom.leaveSubmit.dataset.label || dom.leaveSubmit.textContent;
    dom.leaveSubmit.textContent = t("Sending…");
    var body = { name: dom.leaveName.value, contact: dom.leaveContact.value, content: dom.leaveContent.value };
    G.api("POST", "/api/v1/visitor/leave-message", body, authHeaders()).then(function (res) {
      if (res.status === 401) {
        state.leaving = false;
        dom.leaveSubmit.disabled = false;
        dom.leaveSubmit.textContent = dom.leaveSubmit.dataset.label;
        return sessionExpired();
      }
      if (!res.ok || !res.data || !res.data.message) return leaveFailed(res);
      state.leaving = false;
      state.left = true;
      dom.leaveSubmit.disabled = false;
      dom.leaveSubmit.textContent = dom.leaveSubmit.dataset.label;
      dom.leaveContent.value = "";
      mergeServer(res.data.message);
      view.render({ stick: true });
      renderHeader();
    });
  }

  function leaveFailed(res) {
    state.leaving = false;
    dom.leaveSubmit.disabled = false;
    dom.leaveSubmit.textContent = dom.leaveSubmit.dataset.label;
    var code = res.data && res.data.error && res.data.error.code;
    dom.leaveError.textContent = G.errorText(res);
    dom.leaveError.hidden = false;
    var field = code === "bad_contact" ? dom.leaveContact : code === "bad_name" ? dom.leaveName : dom.leaveContent;
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }

  dom.leave.addEventListener("submit", leaveMessage);
  dom.leave.addEventListener("input", function (e) {
    if (e.target.removeAttribute) e.target.removeAttribute("aria-invalid");
  });

  // --- the product the visitor looks at: pinned above the composer until sent ------------------------

  var PINS_KEY = "gofly.products.done." + cfg.ent_id; // products sent or dismissed, so a reload does not pin them again
  var pinShown = "";

  function productText(product) {
    return "product[" + JSON.stringify({ title: product.title, price: product.price, img: product.img, url: product.url }) + "]";
  }
  function productDone(text) {
    var done = G.store.getJSON(PINS_KEY, []);
    if (Array.isArray(done) && done.indexOf(text) >= 0) return true;
    // Or already in the thread (sent from another tab or device).
    return thread.records.some(function (rec) {
      return rec.sender === "visitor" && rec.content === text;
    });
  }
  function markProductDone(text) {
    var done = G.store.getJSON(PINS_KEY, []);
    done = (Array.isArray(done) ? done : []).filter(function (t) {
      return t !== text;
    });
    done.push(text);
    G.store.setJSON(PINS_KEY, done.slice(-20));
  }

  function renderPin() {
    var text = state.product ? productText(state.product) : "";
    var show = !!text && !state.dead && !state.expired && !productDone(text);
    dom.pin.hidden = !show;
    if (!show || pinShown === text) return;
    pinShown = text;
    dom.pinCard.replaceChildren();
    G.renderContent(text, dom.pinCard);
  }

  dom.pinSend.addEventListener("click", function () {
    if (!state.product) return;
    var text = productText(state.product);
    if (send(text)) markProductDone(text);
    renderPin();
  });
  dom.pinDismiss.addEventListener("click", function () {
    if (state.product) markProductDone(productText(state.product));
    renderPin();
  });

  // --- composer --------------------------------------------------------------------------------

  new G.Composer(dom.input, dom.send, {
    maxLength: cfg.max_length || 5000,
    onTooLong: function () {
      dom.input.setCustomValidity(t("Message is too long."));
      dom.input.reportValidity();
      setTimeout(function () {
        dom.input.setCustomValidity("");
      }, 2000);
    },
    onSend: send,
    onTyping: function (draft) {
      socket.send("typing", { content: draft.slice(0, 200) });
    },
  });
  G.EmojiPicker(dom.emoji, dom.input);
  G.composerFiles(dom.app, dom.input, sendFiles);

  // --- boot ------------------------------------------------------------------------------------

  view.show(thread);
  renderHeader();
  login().then(function (ok) {
    if (!ok) return;
    if (state.expired) {
      // The stored token was not taken: the visitor learns why the old chat is not here before a new one.
      dom.expiredHint.textContent = t("Your earlier messages stay with the old session; a new chat starts without them.");
      thread.loaded = true;
      renderHeader();
      return;
    }
    loadPage().then(function () {
      view.render({ stick: true });
      renderPin();
      socket.connect();
    });
  });

  // --- the widget's host page: its page trail, and one sound per browser --------------------------

  var pendingPage = null;
  /** The page of the operator's site the visitor is on (the widget's `page` frame): sent now, or the
   * latest one once the socket is back. */
  function hostPage(url, title) {
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return;
    pendingPage = { url: url.slice(0, 1000), title: typeof title === "string" ? title.slice(0, 200) : "" };
    sendPage();
    if (thread.maxId()) embed.chatted(true);
  }
  function sendPage() {
    if (pendingPage && socket.send("page", pendingPage)) pendingPage = null;
  }

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
      G.playSound(assets.sound_message);
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

  // For tests and the embedding widget: a read-only peek at the page's state.
  window.GoFlyVisitor = {
    send: send,
    sendFiles: sendFiles,
    uploader: uploader,
    endChat: endChat,
    state: state,
    outbox: outbox,
    socket: socket,
    refreshToken: keepTokenFresh,
    thread: function () {
      return thread;
    },
  };
})();
