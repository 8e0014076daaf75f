/* GoFly console: the agent's WeChat (status menu): bind it by scanning a QR code, unbind it, and show the agent's
   own QR code that routes visitors to them (docs/protocol.md 5.19, the `wechat.binding` frame of 6.14). */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var t = G.t;
  function $(id) {
    return document.getElementById(id);
  }
  var section = $("wechat-section");
  var dialog = $("wechat-dialog");
  if (!section || !dialog) return;
  var ui = {
    state: $("wechat-state"),
    bind: $("wechat-bind"),
    unbind: $("wechat-unbind"),
    route: $("wechat-route"),
    title: $("wechat-title"),
    text: $("wechat-text"),
    qr: $("wechat-qr"),
    note: $("wechat-note"),
  };
  var URL = "/api/v1/agent/wechat/binding";
  var POLL_MS = 4000; // while a bind code shows: the frame may be lost, the status is not
  var binding = null;
  var waiting = null; // {expires: ms} while a bind code is shown
  var timer = null;

  function show(status) {
    binding = status.binding;
    section.hidden = !status.available && !binding;
    ui.route.hidden = !status.available;
    ui.bind.hidden = !status.available;
    ui.unbind.hidden = !binding;
    if (binding) ui.state.textContent = binding.nickname ? t("Bound to WeChat {name}.", { name: binding.nickname }) : t("Bound to WeChat.");
    else ui.state.textContent = t("Not bound to WeChat.");
    if (binding && waiting) {
      waiting = null;
      ui.qr.hidden = true;
      ui.text.textContent = "";
      ui.note.textContent = t("Your WeChat is now bound.");
    }
  }

  function load() {
    return G.api("GET", URL).then(function (res) {
      if (res.ok && res.data) show(res.data);
    });
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    waiting = null;
  }

  function open(title, text, code) {
    ui.title.textContent = title;
    ui.text.textContent = text;
    ui.note.textContent = "";
    ui.qr.hidden = !code;
    if (code) ui.qr.src = code.image;
    if (!dialog.open) dialog.showModal();
  }

  function refused(res) {
    open(t("Bind WeChat"), C.apiErrorText ? C.apiErrorText(res) : G.errorText(res), null);
  }

  function tick() {
    if (!waiting) return;
    if (Date.now() >= waiting.expires) {
      stop();
      ui.qr.hidden = true;
      ui.note.textContent = t("This QR code has expired. Ask for a new one.");
      return;
    }
    load();
  }

  ui.bind.addEventListener("click", function () {
    stop();
    G.api("POST", "/api/v1/agent/wechat/bind-qrcode").then(function (res) {
      if (!res.ok || !res.data) return refused(res);
      var expires = new Date(res.data.expires_at);
      open(t("Bind WeChat"), t("Scan this QR code with the WeChat that should receive your alerts."), res.data);
      ui.note.textContent = t("Valid until {time}.", { time: expires.toLocaleTimeString() });
      waiting = { expires: expires.getTime() };
      timer = setInterval(tick, POLL_MS);
    });
  });

  ui.unbind.addEventListener("click", function () {
    G.api("DELETE", URL).then(function (res) {
      if (res.ok && res.data) show(res.data);
    });
  });

  ui.route.addEventListener("click", function () {
    stop();
    G.api("GET", "/api/v1/agent/wechat/route-qrcode").then(function (res) {
      if (!res.ok || !res.data) return refused(res);
      open(t("My QR code for visitors"), t("Print this QR code: visitors who scan it with WeChat are routed to you when you are online."), res.data);
    });
  });

  dialog.addEventListener("close", stop);

  C.frameListeners.push(function (type, data) {
    if (type === "ready") load(); // a change missed while disconnected
    if (type !== "wechat.binding" || !data) return;
    var had = !!binding;
    show({ available: !ui.bind.hidden, binding: data.binding });
    if (had && !data.binding && !dialog.open && C.showToast) C.showToast(t("Your WeChat was unbound."));
  });

  load();
})(window.GoFlyConsole);
