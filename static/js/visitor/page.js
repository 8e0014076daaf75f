/* GoFly visitor page, part 1: the namespace GoFlyVisitor the parts share, the page's config, elements and state. */
// The visitor page is static/js/visitor/*.js in the order of templates/chat/visitor.html, then static/js/visitor.js,
// which starts it. Every part adds its functions and objects to window.GoFlyVisitor (`V`) and reaches the others'
// only through it, at call time; `V.state` is the one state object of the page.
(function (G) {
  "use strict";

  var t = G.t;
  var page = G.boot();
  var cfg = page.cfg;

  var $ = function (id) {
    return document.getElementById(id);
  };

  var V = (window.GoFlyVisitor = {
    cfg: cfg,
    assets: page.assets,
    TOKEN_KEY: "gofly.visitor." + cfg.ent_id,
    TOKEN_AT_KEY: "gofly.visitor." + cfg.ent_id + ".at", // when this browser got that token (ms)
    // A token lives 30 days from its issue (GOFLY_VISITOR_TOKEN_DAYS); an open page swaps it for a fresh one
    // twice a day, so that a page left open for longer still reconnects as its visitor.
    TOKEN_REFRESH_AFTER: 12 * 3600 * 1000,
    OUTBOX_KEY: "gofly.outbox.visitor." + cfg.ent_id,
    PAGE_SIZE: 20,
  });

  V.dom = {
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

  V.state = {
    token: G.store.get(V.TOKEN_KEY) || "",
    tokenAt: Number(G.store.get(V.TOKEN_AT_KEY)) || 0,
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

  // --- small helpers of every part ---------------------------------------------------------------

  V.agentAvatar = function (agent) {
    return (agent && G.safeURL(agent.avatar, true)) || V.assets.agent_avatar;
  };
  V.visitorAvatar = function () {
    var visitor = V.state.visitor;
    return (visitor && G.safeURL(visitor.avatar, true)) || V.assets.visitor_avatar;
  };

  /** The welcome text may be the operator's (sanitised) rich text; the page shows it as plain text. */
  V.plainText = function (value) {
    var text = value == null ? "" : String(value);
    if (!/<[a-z!/][\s\S]*>/i.test(text)) return text;
    var doc = new DOMParser().parseFromString(text.replace(/<br\s*\/?>/gi, "\n").replace(/<\/(p|div|li)>/gi, "\n"), "text/html");
    return (doc.body.textContent || "").replace(/\n{3,}/g, "\n\n").trim();
  };

  V.live = function (conversation) {
    return !!conversation && (conversation.status === "waiting" || conversation.status === "open");
  };

  /** A socket's refusal (an `error` frame's {code, message}) in the page's language: by its code, as
   * docs/protocol.md 3 asks; the server's text (in the server's language) only for a code we do not know. */
  V.refusalText = function (err) {
    return (err && G.codeText(err.code, err.message)) || t("This chat is not available.");
  };

  // --- HTTP ----------------------------------------------------------------------------------------

  // The server's messages (the default name, and errors of codes the page does not know) in the page's
  // language, not the browser's.
  V.langHeaders = function () {
    return cfg.lang ? { "Accept-Language": cfg.lang } : {};
  };
  V.authHeaders = function () {
    return Object.assign({ Authorization: "Visitor " + V.state.token }, V.langHeaders());
  };
})(window.GoFly);
