/* GoFly visitor chat page (/chatIndex), its last script: starts the page its parts (static/js/visitor/*.js) make. */
// Log in (resuming the stored token), show the history, then chat live. The composer stays disabled until this
// runs (renderHeader enables it): an Enter pressed before would only add a line, unsent.
(function (V, G) {
  "use strict";

  var t = G.t;
  var state = V.state;

  V.embed.start();
  V.view.show(V.thread());
  V.renderHeader();
  V.login().then(function (ok) {
    if (!ok) return;
    if (state.expired) {
      // The stored token was not taken: the visitor learns why the old chat is not here before a new one.
      V.dom.expiredHint.textContent = t("Your earlier messages stay with the old session; a new chat starts without them.");
      V.thread().loaded = true;
      V.renderHeader();
      return;
    }
    V.loadPage().then(function () {
      V.view.render({ stick: true });
      V.renderPin();
      V.socket.connect();
    });
  });
})(window.GoFlyVisitor, window.GoFly);
