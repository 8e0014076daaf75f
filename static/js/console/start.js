/* GoFly console: loaded last: the panel toggles, the tickers, the first render and the socket's connect. */
(function (C) {
  "use strict";

  var dom = C.dom;
  var state = C.state;
  var tickWaits = C.tickWaits;

  dom.chatBack.addEventListener("click", function () {
    dom.workspace.classList.remove("has-selection");
  });
  dom.infoToggle.addEventListener("click", function () {
    dom.workspace.classList.toggle("show-info");
  });
  dom.infoClose.addEventListener("click", function () {
    dom.workspace.classList.remove("show-info");
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && state.selected) C.markRead(state.selected);
  });

  // Typing previews expire on their own; refresh the relative bits once in a while. Waiting times tick.
  setInterval(C.scheduleList, 30000);
  setInterval(tickWaits, 1000);

  C.renderNotifyBanner();
  C.renderMute();
  C.renderTeam();
  C.showTab(state.tab);
  C.socket.connect();
})(window.GoFlyConsole);
