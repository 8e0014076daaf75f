/* GoFly floating chat widget: the loader of the embed snippet (README, "Embedding the chat").
 *
 *   <script src="https://chat.example.com/static/js/gofly-front.js"></script>
 *   <script>GOFLY.init({GOFLY_URL: "https://chat.example.com", GOFLY_KEFU_ID: "kefu2", GOFLY_ENT: "1"})</script>
 *
 * Runs on the operator's site (another origin): plain ES5, no dependency. The chat is our /chatIndex page in
 * an iframe; everything this script adds to the host page lives in one shadow root under <gofly-widget>,
 * and the only globals it defines are GOFLY and KEFU (the newer loader's name, with KEFU_* options).
 * The chat page tells us its unread count and agent with namespaced postMessage frames ({gofly: 1, ...}),
 * accepted only from the GOFLY_URL origin and our own iframe.
 */
(function (window, document) {
  "use strict";
  if (window.GOFLY && window.GOFLY.__gofly) return; // the script included twice: keep the first

  var TEXT = {
    en: { close: "Close chat", open: "Open chat", chat: "Live chat", unread: "unread messages" },
    zh: { close: "关闭聊天", open: "打开聊天", chat: "在线客服", unread: "条未读消息" },
  };
  var NAMES = ["URL", "KEFU_ID", "ENT", "BTN_TEXT", "LANG", "EXTRA", "AUTO_OPEN", "AUTO_SHOW", "WITHOUT_BTN"];
  // Class names carry a unique prefix, so the rules stay ours even where shadow DOM is missing.
  var CSS =
    ":host{all:initial!important}" +
    ".gfw-w{position:fixed;right:20px;bottom:20px;z-index:2147483000;font-size:14px;line-height:1.4;color:#1f2937;" +
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'PingFang SC','Microsoft YaHei',sans-serif}" +
    ".gfw-b{all:initial;box-sizing:border-box;display:flex;align-items:center;gap:8px;position:relative;cursor:pointer;padding:12px 18px;" +
    "border-radius:24px;background:#2563eb;color:#fff;font-family:inherit;font-size:14px;font-weight:600;line-height:1.2;box-shadow:0 6px 20px rgba(0,0,0,.2)}" +
    ".gfw-b:hover{background:#1d4ed8}.gfw-b:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}" +
    ".gfw-b svg{width:20px;height:20px;fill:currentColor;flex:none}" +
    ".gfw-n{position:absolute;top:-6px;right:-6px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;border-radius:10px;" +
    "background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}" +
    ".gfw-p{position:fixed;right:20px;bottom:88px;width:380px;height:600px;max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);" +
    "display:flex;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25)}" +
    ".gfw-nb .gfw-p{bottom:20px;max-height:calc(100vh - 40px)}" +
    ".gfw-h{display:flex;align-items:center;gap:8px;height:36px;padding:0 6px 0 12px;background:#1e3a8a;color:#fff;flex:none}" +
    ".gfw-h img{width:22px;height:22px;border-radius:50%;object-fit:cover}" +
    ".gfw-t{flex:1;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;font-weight:600}" +
    ".gfw-x{all:initial;cursor:pointer;color:#fff;font-family:inherit;font-size:20px;line-height:32px;width:32px;height:32px;text-align:center;border-radius:6px}" +
    ".gfw-x:hover,.gfw-x:focus-visible{background:rgba(255,255,255,.2)}" +
    ".gfw-p iframe{flex:1;width:100%;border:0;display:block;background:#fff}" +
    ".gfw-w [hidden]{display:none!important}" +
    "@media (max-width:480px){.gfw-p{right:0;bottom:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}" +
    ".gfw-nb .gfw-p{bottom:0;max-height:none}.gfw-h{height:44px}.gfw-x{width:40px;height:40px;line-height:40px;font-size:24px}" +
    ".gfw-o .gfw-b{display:none}}";
  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';

  var opts = null; // the normalised options, once init was called
  var ui = null; // the DOM, once built
  var origin = ""; // GOFLY_URL's origin: the only one we accept messages from
  var isOpen = false;
  var unread = 0;
  var agent = null;

  function lang() {
    var l = String(opts.LANG || window.navigator.language || "en").toLowerCase();
    return l.indexOf("zh") === 0 || l === "cn" ? "zh" : "en";
  }
  function t(key) {
    return TEXT[lang()][key];
  }
  function truthy(v) {
    return v === true || v === 1 || v === "1" || v === "true";
  }
  function originOf(url) {
    var a = document.createElement("a");
    a.href = url;
    if (a.origin && a.origin !== "null") return a.origin;
    var port = a.port && !((a.protocol === "http:" && a.port === "80") || (a.protocol === "https:" && a.port === "443"));
    return a.protocol + "//" + a.hostname + (port ? ":" + a.port : "");
  }
  // base64 of the UTF-8 JSON (the chat page decodes it as the original did).
  function base64Json(value) {
    var json = JSON.stringify(value);
    return window.btoa(unescape(encodeURIComponent(json)));
  }

  function chatUrl() {
    var q = ["kefu_id=" + encodeURIComponent(opts.KEFU_ID || ""), "ent_id=" + encodeURIComponent(opts.ENT || "")];
    if (opts.LANG) q.push("lang=" + (lang() === "zh" ? "zh-hans" : "en"));
    if (opts.EXTRA) {
      try {
        q.push("extra=" + encodeURIComponent(typeof opts.EXTRA === "string" ? opts.EXTRA : base64Json(opts.EXTRA)));
      } catch (e) {
        /* an extra that cannot be encoded is left out */
      }
    }
    var here = String(window.location.href).slice(0, 1000);
    q.push("refer=" + encodeURIComponent(here));
    q.push("landing_page=" + encodeURIComponent(here));
    return opts.URL.replace(/\/+$/, "") + "/chatIndex?" + q.join("&");
  }

  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    for (var k in attrs || {}) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    return node;
  }

  function build() {
    var host = document.createElement("gofly-widget");
    var s = host.style;
    s.setProperty("all", "initial", "important");
    s.setProperty("display", "block", "important");
    s.setProperty("position", "static", "important");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var style = el("style");
    style.textContent = host.attachShadow ? CSS : CSS.replace(":host", "gofly-widget");
    var wrap = el("div");
    var button = el("button", "gfw-b", { type: "button", "aria-expanded": "false", part: "launcher" });
    button.innerHTML = ICON;
    var label = el("span");
    label.textContent = opts.BTN_TEXT || t("chat");
    var badge = el("span", "gfw-n", { "aria-live": "polite" });
    badge.hidden = true;
    button.appendChild(label);
    button.appendChild(badge);
    button.onclick = function () {
      api.toggle();
    };
    if (truthy(opts.WITHOUT_BTN)) button.hidden = true;
    var panel = el("div", "gfw-p", { role: "dialog", "aria-label": opts.BTN_TEXT || t("chat") });
    panel.hidden = true;
    var head = el("div", "gfw-h");
    var avatar = el("img", "", { alt: "" });
    avatar.hidden = true;
    var title = el("span", "gfw-t");
    title.textContent = opts.BTN_TEXT || t("chat");
    var close = el("button", "gfw-x", { type: "button", "aria-label": t("close"), title: t("close") });
    close.textContent = "\u00d7";
    close.onclick = function () {
      api.close();
      if (!button.hidden) button.focus();
    };
    head.appendChild(avatar);
    head.appendChild(title);
    head.appendChild(close);
    panel.appendChild(head);
    wrap.appendChild(panel);
    wrap.appendChild(button);
    root.appendChild(style);
    root.appendChild(wrap);
    document.body.appendChild(host);
    ui = { host: host, wrap: wrap, button: button, badge: badge, panel: panel, avatar: avatar, title: title, close: close, frame: null };
    window.addEventListener("message", receive, false);
    window.addEventListener("keydown", function (e) {
      if (isOpen && (e.key === "Escape" || e.keyCode === 27) && e.target === host) api.close();
    });
    render();
    if (truthy(opts.AUTO_OPEN)) api.open();
    else if (truthy(opts.AUTO_SHOW)) frame(); // loaded hidden, so unread messages are counted from the start
  }

  function frame() {
    if (!ui.frame) {
      ui.frame = el("iframe", "", { src: chatUrl(), title: opts.BTN_TEXT || t("chat"), allow: "autoplay; clipboard-write" });
      ui.frame.onload = tell;
      ui.panel.appendChild(ui.frame);
    }
    return ui.frame;
  }

  // Tells the chat page whether it is on screen (it counts unread messages only while it is not).
  function tell() {
    if (ui && ui.frame && ui.frame.contentWindow) {
      try {
        ui.frame.contentWindow.postMessage({ gofly: 1, type: "open", open: isOpen }, origin);
      } catch (e) {
        /* not loaded yet: the page asks when it is ready */
      }
    }
  }

  function render() {
    ui.panel.hidden = !isOpen;
    ui.wrap.className = "gfw-w" + (truthy(opts.WITHOUT_BTN) ? " gfw-nb" : "") + (isOpen ? " gfw-o" : "");
    ui.button.setAttribute("aria-expanded", isOpen ? "true" : "false");
    ui.button.setAttribute("aria-label", (opts.BTN_TEXT || t("chat")) + (unread && !isOpen ? " (" + unread + " " + t("unread") + ")" : ""));
    ui.badge.hidden = isOpen || !unread;
    ui.badge.textContent = !unread ? "" : unread > 99 ? "99+" : String(unread);
    if (agent && agent.name) ui.title.textContent = agent.name;
    if (agent && agent.avatar && /^https?:/.test(agent.avatar)) {
      ui.avatar.src = agent.avatar;
      ui.avatar.hidden = false;
    }
  }

  function receive(e) {
    var d = e.data;
    if (e.origin !== origin || !ui || !ui.frame || e.source !== ui.frame.contentWindow) return;
    if (!d || typeof d !== "object" || d.gofly !== 1) return;
    if (d.type === "ready") tell();
    else if (d.type === "unread") {
      unread = Math.max(0, parseInt(d.count, 10) || 0);
      if (isOpen) unread = 0;
      render();
    } else if (d.type === "agent") {
      agent = { name: String(d.name || "").slice(0, 100), avatar: String(d.avatar || "").slice(0, 1000) };
      render();
    }
  }

  function whenBody(fn) {
    if (document.body) fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  var api = {
    __gofly: 1,
    init: function (options) {
      if (opts) return api; // called twice: one widget
      options = options || {};
      var o = {};
      for (var i = 0; i < NAMES.length; i++) {
        var n = NAMES[i];
        o[n] = options["GOFLY_" + n] !== undefined ? options["GOFLY_" + n] : options["KEFU_" + n];
      }
      if (!o.URL) {
        if (window.console) window.console.error("GOFLY.init: GOFLY_URL is required");
        return api;
      }
      opts = o;
      origin = originOf(o.URL);
      whenBody(build);
      return api;
    },
    open: function () {
      if (!ui) return;
      isOpen = true;
      unread = 0;
      frame();
      render();
      tell();
    },
    close: function () {
      if (!ui) return;
      isOpen = false; // the iframe stays: the conversation and its socket live on
      render();
      tell();
    },
    toggle: function () {
      if (isOpen) api.close();
      else api.open();
    },
    isOpen: function () {
      return isOpen;
    },
  };
  window.GOFLY = api;
  window.KEFU = api;
})(window, document);
