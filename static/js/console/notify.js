/* GoFly console: desktop notifications, the banner asking for them, and the sound toggle. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var t = G.t;
  var assets = C.assets;
  var dom = C.dom;
  var NOTIFY_DISMISSED_KEY = "gofly.notify.dismissed";

  function desktopNotify(heading, body, vid, tag) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(heading, { body: body, tag: tag, icon: assets.logo, silent: true });
      n.onclick = function () {
        window.focus();
        if (vid) C.select(vid);
        n.close();
      };
      setTimeout(function () {
        n.close();
      }, 10000);
    } catch (e) {
      /* some mobile browsers only notify from a service worker */
    }
  }

  function renderNotifyBanner() {
    var show = "Notification" in window && Notification.permission === "default" && G.store.get(NOTIFY_DISMISSED_KEY) !== "1";
    dom.notifyBanner.hidden = !show;
  }
  dom.notifyEnable.addEventListener("click", function () {
    var p = Notification.requestPermission(renderNotifyBanner);
    if (p && p.then) p.then(renderNotifyBanner);
  });
  dom.notifyDismiss.addEventListener("click", function () {
    G.store.set(NOTIFY_DISMISSED_KEY, "1");
    renderNotifyBanner();
  });

  function renderMute() {
    var muted = G.store.get("gofly.muted") === "1";
    dom.mute.setAttribute("aria-pressed", String(muted));
    dom.mute.title = muted ? t("Sound off") : t("Sound on");
    dom.mute.classList.toggle("is-muted", muted);
  }
  dom.mute.addEventListener("click", function () {
    G.store.set("gofly.muted", G.store.get("gofly.muted") === "1" ? "0" : "1");
    renderMute();
  });

  Object.assign(C, {
    desktopNotify: desktopNotify,
    renderMute: renderMute,
    renderNotifyBanner: renderNotifyBanner,
  });
})(window.GoFlyConsole);
