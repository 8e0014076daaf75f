/* GoFly visitor page, part 5: the session: log in (resuming the stored token), a fresh token, its expiry. */
(function (V, G) {
  "use strict";

  var t = G.t;
  var cfg = V.cfg;
  var dom = V.dom;
  var state = V.state;

  function storeToken(token) {
    state.token = token;
    state.tokenAt = Date.now();
    G.store.set(V.TOKEN_KEY, token);
    G.store.set(V.TOKEN_AT_KEY, String(state.tokenAt));
  }

  V.login = function login(withoutExtra) {
    var body = {
      ent_id: String(cfg.ent_id),
      kefu_id: cfg.kefu_id || "",
      token: state.token || "",
      visitor_id: cfg.visitor_id || "",
      visitor_name: cfg.visitor_name || "",
      avatar: cfg.avatar || "",
      timestamp: cfg.timestamp || "",
      signature: cfg.signature || "",
      // A channel's one-time ticket (WeChat's web authorisation): this login is its visitor's, once.
      ticket: cfg.ticket || "",
      refer: cfg.refer || "",
      landing_page: cfg.landing_page || document.referrer || "",
      extra: withoutExtra ? "" : cfg.extra || "",
    };
    // No Referer header: the server would take this page's own URL for the visitor's referrer.
    return G.api("POST", "/api/v1/visitor/login", body, V.langHeaders(), { referrerPolicy: "no-referrer" }).then(function (res) {
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
        if (body.ticket) forgetTicket();
        state.visitor = res.data.visitor;
        state.agent = res.data.agent;
        state.agentsOnline = res.data.agents_online;
        state.welcome = (res.data.enterprise && res.data.enterprise.welcome) || "";
        state.welcomes = (res.data.enterprise && res.data.enterprise.welcomes) || null;
        state.offlineText = (res.data.enterprise && res.data.enterprise.offline_text) || "";
        state.uploads = res.data.uploads || null;
        state.wsPath = res.data.ws_path || "/ws/visitor";
        state.product = res.data.product || null;
        if (previous && previous !== state.visitor.visitor_id) V.resetThread();
        V.renderHeader();
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
        V.renderConnection(navigator.onLine === false ? "offline" : "waiting");
        return new Promise(function (resolve) {
          setTimeout(resolve, delay);
        }).then(function () {
          return login(withoutExtra);
        });
      }
      V.fatal(G.errorText(res, "login"));
      return false;
    });
  };

  /** The ticket is used up: keep it out of later logins, of a reload and of a link shared from this page. */
  function forgetTicket() {
    cfg.ticket = "";
    try {
      var url = new URL(window.location.href);
      url.searchParams.delete("ticket");
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    } catch (e) {
      /* an old browser keeps the used ticket in its address bar: the server ignores it */
    }
  }

  // --- the session expired: say so, and start anew only when the visitor asks ------------------------

  V.sessionExpired = function () {
    if (state.dead || state.expired) return;
    state.expired = "session";
    dom.expiredHint.textContent = t("Your earlier messages stay with the old session; a new chat starts without them.");
    V.outbox.setReady(false);
    V.hideTyping();
    V.closeConfirm(false);
    V.renderConnection("stopped");
    V.renderHeader();
  };

  /** The signed link that opened the page is too old to log in again: only the operator's page can sign a
   * new one, so offer to reload it. */
  function signatureExpired() {
    state.expired = "signature";
    var source = G.safeURL(cfg.landing_page) || G.safeURL(cfg.refer) || G.safeURL(document.referrer);
    if (source) dom.source.setAttribute("href", source);
    dom.expiredHint.textContent = t("The link that opened this chat is too old. Reload the page you came from to continue.");
    V.closeConfirm(false);
    V.renderConnection("stopped");
    V.renderHeader();
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
      G.store.remove(V.TOKEN_KEY);
      G.store.remove(V.TOKEN_AT_KEY);
      state.expired = null; // so that this login may say "signature" instead
      ready = V.login().then(function (ok) {
        if (!ok && !state.expired) state.expired = "session";
        return ok;
      });
    }
    ready.then(function (ok) {
      state.restarting = false;
      dom.restart.disabled = false;
      if (!ok) return V.renderHeader();
      state.restartReady = false;
      state.expired = null;
      state.conversation = null;
      state.ended = false;
      V.renderHeader();
      V.loadPage().then(function () {
        V.view.render({ stick: true });
        V.renderPin();
        var socket = V.socket;
        if (socket.ws) socket._drop(1000); // the old visitor's socket: it reconnects with the new token
        else socket.connectNow();
      });
    });
  }
  dom.restart.addEventListener("click", restart);

  V.refreshToken = function (force) {
    if (!state.token || state.expired || state.dead || state.refreshingToken) return Promise.resolve(false);
    if (!force && Date.now() - state.tokenAt < V.TOKEN_REFRESH_AFTER) return Promise.resolve(false);
    var token = state.token;
    state.refreshingToken = true;
    return G.api("POST", "/api/v1/visitor/token", undefined, V.authHeaders()).then(function (res) {
      state.refreshingToken = false;
      if (state.token !== token) return false; // logged in again meanwhile
      if (res.ok && res.data && res.data.token) {
        storeToken(res.data.token);
        return true;
      }
      if (res.status === 401 || res.status === 404) V.sessionExpired();
      return false; // a network error: the next check tries again
    });
  };
  setInterval(V.refreshToken, 3600 * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") V.refreshToken();
  });
})(window.GoFlyVisitor, window.GoFly);
