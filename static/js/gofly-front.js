/* GoFly floating chat widget: the loader of the embed snippet (README, "Embedding the chat").
 *
 *   <script src="https://chat.example.com/static/js/gofly-front.js"></script>
 *   <script>GOFLY.init({GOFLY_URL: "https://chat.example.com", GOFLY_KEFU_ID: "kefu2", GOFLY_ENT: "1"})</script>
 *
 * Runs on the operator's site (another origin): plain ES5, no dependency. The chat is our /chatIndex page in
 * an iframe, created only when needed (opened, GOFLY_AUTO_OPEN/AUTO_SHOW, or a visitor who has chatted);
 * until then GET /api/v1/widget says whether this site may run it and who is online. Everything this
 * script adds to the host page lives in one shadow root under <gofly-widget>, and the only globals it
 * defines are GOFLY and KEFU (the newer loader's name, with KEFU_* options). The chat page and this script
 * talk with namespaced postMessage frames ({gofly: 1, type: ...}, docs/protocol.md 5.14), accepted only
 * from the GOFLY_URL origin and our own iframe.
 */
(function (window, document) {
  "use strict";
  if (window.GOFLY && window.GOFLY.__gofly) return; // the script included twice: keep the first

  var TEXT = {
    en: {
      close: "Close chat",
      chat: "Live chat",
      unread: "unread messages",
      online: "Online",
      offline: "Offline, leave a message",
      news: "New message",
      dismiss: "Dismiss",
    },
    zh: {
      close: "关闭聊天",
      chat: "在线客服",
      unread: "条未读消息",
      online: "在线",
      offline: "离线，请留言",
      news: "新消息",
      dismiss: "关闭提示",
    },
  };
  var NAMES = ["URL", "KEFU_ID", "ENT", "BTN_TEXT", "LANG", "EXTRA", "AUTO_OPEN", "AUTO_SHOW", "WITHOUT_BTN"];
  var CHATTED_DAYS = 30; // the visitor token's lifetime: after it the chat would start afresh anyway
  // Class names carry a unique prefix, so the rules stay ours even where shadow DOM is missing.
  var CSS =
    ":host{all:initial!important}" +
    ".gfw-w{position:fixed;right:20px;bottom:20px;z-index:2147483000;font-size:14px;line-height:1.4;color:#1f2937;" +
    "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'PingFang SC','Microsoft YaHei',sans-serif}" +
    ".gfw-b{all:initial;box-sizing:border-box;display:flex;align-items:center;gap:10px;position:relative;cursor:pointer;padding:8px 18px 8px 8px;" +
    "border-radius:28px;background:#2563eb;color:#fff;font-family:inherit;font-size:14px;font-weight:600;line-height:1.2;box-shadow:0 6px 20px rgba(0,0,0,.2)}" +
    ".gfw-b:hover{background:#1d4ed8}.gfw-b:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}" +
    ".gfw-a{position:relative;display:flex;align-items:center;justify-content:center;width:36px;height:36px;border-radius:50%;background:rgba(255,255,255,.18);flex:none}" +
    ".gfw-a svg{width:20px;height:20px;fill:currentColor}.gfw-a img{width:36px;height:36px;border-radius:50%;object-fit:cover;background:#fff}" +
    ".gfw-d{position:absolute;right:-1px;bottom:-1px;width:11px;height:11px;border-radius:50%;border:2px solid #2563eb;background:#9ca3af;box-sizing:content-box}" +
    ".gfw-w[data-state=online] .gfw-d{background:#22c55e}.gfw-w[data-state=unknown] .gfw-d{display:none}" +
    ".gfw-l{display:flex;flex-direction:column;min-width:0}" +
    ".gfw-s{font-size:12px;font-weight:400;opacity:.9;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:220px}" +
    ".gfw-n{position:absolute;top:-6px;right:-6px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;border-radius:10px;" +
    "background:#dc2626;color:#fff;font-size:12px;font-weight:700;line-height:20px;text-align:center}" +
    ".gfw-v{position:absolute;right:0;bottom:100%;margin-bottom:14px;width:300px;max-width:calc(100vw - 40px);box-sizing:border-box;" +
    "background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.18)}" +
    ".gfw-vb{all:initial;box-sizing:border-box;display:flex;gap:10px;width:100%;padding:14px 32px 14px 14px;cursor:pointer;font-family:inherit;font-size:14px;color:#1f2937;line-height:1.4}" +
    ".gfw-vb:focus-visible{outline:3px solid #93c5fd;border-radius:12px}" +
    ".gfw-vb img{width:32px;height:32px;border-radius:50%;object-fit:cover;flex:none}" +
    ".gfw-vn{display:block;font-weight:600;font-size:13px;color:#111827}" +
    ".gfw-vt{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;white-space:pre-line;word-break:break-word}" +
    ".gfw-vx{all:initial;position:absolute;top:4px;right:4px;width:26px;height:26px;line-height:26px;text-align:center;cursor:pointer;" +
    "border-radius:50%;font-family:inherit;font-size:18px;color:#6b7280}.gfw-vx:hover,.gfw-vx:focus-visible{background:#f3f4f6;color:#111827}" +
    ".gfw-p{position:fixed;right:20px;bottom:92px;width:380px;height:600px;max-width:calc(100vw - 40px);max-height:calc(100vh - 112px);" +
    "display:flex;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25)}" +
    ".gfw-nb .gfw-p{bottom:20px;max-height:calc(100vh - 40px)}" +
    // No title bar of ours: the chat page's header is the panel's (it names the agent), and our close button lies
    // over its right end, where the page keeps room for it. The title is for screen readers only.
    ".gfw-t{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    ".gfw-x{all:initial;position:absolute;top:17px;right:12px;cursor:pointer;color:#fff;background:rgba(15,23,42,.28);font-family:inherit;" +
    "font-size:20px;line-height:32px;width:32px;height:32px;text-align:center;border-radius:50%}" +
    ".gfw-x:hover,.gfw-x:focus-visible{background:rgba(15,23,42,.5)}.gfw-x:focus-visible{outline:3px solid #93c5fd}" +
    ".gfw-p iframe{flex:1;width:100%;border:0;display:block;background:#fff}" +
    ".gfw-w [hidden],.gfw-w[hidden]{display:none!important}" +
    "@media (max-width:480px){.gfw-p{right:0;bottom:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}" +
    ".gfw-nb .gfw-p{bottom:0;max-height:none}.gfw-x{top:13px;right:8px;width:40px;height:40px;line-height:40px;font-size:24px}" +
    ".gfw-o .gfw-b{display:none}}";
  var ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>';

  var opts = null; // the normalised options, once init was called
  var ui = null; // the DOM, once built
  var origin = ""; // GOFLY_URL's origin: the only one we accept messages from
  var base = ""; // GOFLY_URL without its trailing slash
  var conf = null; // GET /api/v1/widget's answer; {} when it could not be had (the chat may still work)
  var denied = false; // this site may not run the chat (or the snippet names nothing that exists)
  var started = false;
  var wanted = null; // GOFLY.open()/close() called before the server answered: done once it has
  var frameReady = false;
  var isOpen = false;
  var unread = 0; // agent messages the closed panel has not shown (the chat page counts them)
  var unseen = 0; // agent messages that came while the panel was open in a hidden tab
  var agent = null; // {name, avatar}: the endpoint's, then the chat page's
  var online = null; // whether an agent is online; null while unknown

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
  function label() {
    return opts.BTN_TEXT || t("chat");
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
  function query() {
    return "kefu_id=" + encodeURIComponent(opts.KEFU_ID || "") + "&ent_id=" + encodeURIComponent(opts.ENT || "");
  }
  function safeImg(url) {
    return typeof url === "string" && /^https?:\/\/[^\s"'<>]+$/.test(url) ? url : "";
  }
  function log(message) {
    if (window.console) window.console.error("GoFly widget: " + message);
  }

  // Storage of the host page that never throws (blocked storage, private modes): whether this browser's
  // visitor has chatted, so that the chat loads at once on their next page and keeps counting.
  var chattedKey = "";
  function chatted(set) {
    try {
      if (set) return window.localStorage.setItem(chattedKey, String(new Date().getTime()));
      var at = parseInt(window.localStorage.getItem(chattedKey), 10);
      return at > 0 && new Date().getTime() - at < CHATTED_DAYS * 864e5;
    } catch (e) {
      return false;
    }
  }
  // The visit this page belongs to: its first page, and the page of another site (a search) that led to it, as
  // the host page's own document.referrer said. Kept in the host site's sessionStorage (this tab, until it
  // closes); a page reached from another site than the one it remembers starts a new visit.
  var visit = null;
  function visitOf() {
    var key = "gofly.visit";
    var here = { landing: String(window.location.href).slice(0, 1000), referrer: String(document.referrer || "").slice(0, 1000) };
    var known = null;
    try {
      known = JSON.parse(window.sessionStorage.getItem(key));
    } catch (e) {
      known = null;
    }
    var valid = known && typeof known.landing === "string" && typeof known.referrer === "string";
    // From another site, and not the one that started the remembered visit (a reload of its first page).
    var arrived = !!here.referrer && originOf(here.referrer) !== originOf(here.landing) && !(valid && here.referrer === known.referrer);
    if (valid && !arrived) return known;
    try {
      window.sessionStorage.setItem(key, JSON.stringify(here));
    } catch (e) {
      /* no storage: this page is the visit's first */
    }
    return here;
  }

  // The welcome bubble, once per browser session: a session cookie of the host site.
  var welcomedCookie = "";
  function welcomed(set) {
    if (set) document.cookie = welcomedCookie + "=1; path=/; SameSite=Lax";
    return (" " + document.cookie + ";").indexOf(" " + welcomedCookie + "=1;") >= 0;
  }

  function chatUrl() {
    var q = [query()];
    if (opts.LANG) q.push("lang=" + (lang() === "zh" ? "zh-hans" : "en"));
    if (opts.EXTRA) {
      try {
        q.push("extra=" + encodeURIComponent(typeof opts.EXTRA === "string" ? opts.EXTRA : base64Json(opts.EXTRA)));
      } catch (e) {
        /* an extra that cannot be encoded is left out */
      }
    }
    // The visit, not this page: where the visitor came from (the search words are read from it) and where
    // they landed. `widget`: the chat page is our panel's, and leaves room for our close button.
    q.push("refer=" + encodeURIComponent(visit.referrer));
    q.push("landing_page=" + encodeURIComponent(visit.landing));
    q.push("widget=1");
    return base + "/chatIndex?" + q.join("&");
  }

  // --- the launcher's state before the chat exists ----------------------------------------------

  function fetchState() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", base + "/api/v1/widget?" + query(), true);
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        body = null;
      }
      settle(xhr.status, body || {});
    };
    try {
      xhr.send();
    } catch (e) {
      settle(0, {});
    }
  }

  function settle(status, body) {
    var where = " (GOFLY_ENT: " + JSON.stringify(opts.ENT || "") + ", GOFLY_KEFU_ID: " + JSON.stringify(opts.KEFU_ID || "") + ")";
    if (status === 200 && body.allowed === false) {
      denied = true;
      var here = body.origin || originOf(window.location.href);
      log(
        "this site's origin " + here + " is not in the allowed origins of the enterprise" + where +
          ", so the chat is not shown. Add " + here + " to the enterprise's allowed origins (GoFly admin: " +
          base + "/admin/, Enterprises)."
      );
    } else if (status === 403 && body.error && body.error.code === "blacklisted") {
      denied = true; // this visitor's address is blacklisted: no launcher (the chat would refuse them)
    } else if (status === 404 || status === 400) {
      denied = true;
      var error = (body.error && body.error.message) || "";
      log("the snippet names no enterprise or agent of " + base + where + ": " + (typeof error === "string" ? error : JSON.stringify(error)));
    }
    conf = status === 200 && body.allowed ? body : {};
    if (conf.agent) agent = { name: String(conf.agent.name || ""), avatar: safeImg(conf.agent.avatar) };
    if (typeof conf.online === "boolean") online = conf.online;
    start();
  }

  // --- the DOM ----------------------------------------------------------------------------------

  function el(tag, cls, attrs) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    for (var k in attrs || {}) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    return node;
  }
  function text(node, value) {
    node.textContent = value;
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
    var wrap = el("div", "gfw-w");
    wrap.hidden = true; // until the server has said whether this site may run the chat
    var button = el("button", "gfw-b", { type: "button", "aria-expanded": "false", part: "launcher" });
    var face = el("span", "gfw-a");
    face.innerHTML = ICON;
    var faceImg = el("img", "", { alt: "" });
    faceImg.hidden = true;
    face.appendChild(faceImg);
    face.appendChild(el("i", "gfw-d"));
    var labels = el("span", "gfw-l");
    labels.appendChild(text(el("span", "gfw-lt"), label()));
    var sub = el("span", "gfw-s");
    labels.appendChild(sub);
    var badge = el("span", "gfw-n", { "aria-live": "polite" });
    badge.hidden = true;
    button.appendChild(face);
    button.appendChild(labels);
    button.appendChild(badge);
    button.onclick = function () {
      api.toggle();
    };
    if (truthy(opts.WITHOUT_BTN)) button.hidden = true;

    var bubble = el("div", "gfw-v", { role: "status" });
    bubble.hidden = true;
    var bubbleBody = el("button", "gfw-vb", { type: "button" });
    var bubbleImg = el("img", "", { alt: "" });
    var bubbleText = el("span");
    var bubbleName = el("span", "gfw-vn");
    var bubbleMsg = el("span", "gfw-vt");
    bubbleText.appendChild(bubbleName);
    bubbleText.appendChild(bubbleMsg);
    bubbleBody.appendChild(bubbleImg);
    bubbleBody.appendChild(bubbleText);
    bubbleBody.onclick = function () {
      api.open();
    };
    var bubbleClose = text(el("button", "gfw-vx", { type: "button", "aria-label": t("dismiss"), title: t("dismiss") }), "\u00d7");
    bubbleClose.onclick = function () {
      bubble.hidden = true;
    };
    bubble.appendChild(bubbleBody);
    bubble.appendChild(bubbleClose);

    // The dialog is named by its title (the agent, once known); the chat page in it shows its own header.
    var panel = el("div", "gfw-p", { role: "dialog", "aria-labelledby": "gofly-widget-title" });
    panel.hidden = true;
    var title = text(el("span", "gfw-t", { id: "gofly-widget-title" }), label());
    var close = text(el("button", "gfw-x", { type: "button", "aria-label": t("close"), title: t("close") }), "\u00d7");
    close.onclick = function () {
      api.close();
      if (!button.hidden) button.focus();
    };
    panel.appendChild(title);
    panel.appendChild(close);
    wrap.appendChild(panel);
    wrap.appendChild(bubble);
    wrap.appendChild(button);
    root.appendChild(style);
    root.appendChild(wrap);
    document.body.appendChild(host);
    ui = {
      host: host,
      wrap: wrap,
      button: button,
      faceImg: faceImg,
      sub: sub,
      badge: badge,
      bubble: bubble,
      bubbleImg: bubbleImg,
      bubbleName: bubbleName,
      bubbleMsg: bubbleMsg,
      panel: panel,
      title: title,
      frame: null,
    };
    window.addEventListener("message", receive, false);
    window.addEventListener("keydown", function (e) {
      if (isOpen && (e.key === "Escape" || e.keyCode === 27) && e.target === host) api.close();
    });
    document.addEventListener("visibilitychange", seen);
    window.addEventListener("focus", seen);
    // Single-page apps change pages without loading one: the page trail follows location.href.
    window.addEventListener("popstate", pageCheck);
    window.addEventListener("hashchange", pageCheck);
    window.setInterval(pageCheck, 1000);
    start();
  }

  // Both the DOM and the server's answer are here: show the launcher, load the chat if it is wanted now.
  function start() {
    if (!ui || !conf || started) return;
    started = true;
    if (denied) {
      ui.host.parentNode.removeChild(ui.host); // nothing broken to show; the console says why
      return;
    }
    ui.wrap.hidden = false;
    render();
    if (wanted) api[wanted]();
    if (isOpen) return;
    if (truthy(opts.AUTO_OPEN)) api.open();
    else if (truthy(opts.AUTO_SHOW) || chatted()) frame(); // hidden: its unread messages count from now
    else if (conf.welcome && !welcomed()) {
      window.setTimeout(function () {
        if (isOpen || ui.frame || welcomed()) return; // opened meanwhile: the chat has said it, or more
        welcomed(true);
        showBubble((agent && agent.name) || (conf.enterprise && conf.enterprise.name) || label(), agent && agent.avatar, conf.welcome);
      }, 1000);
    }
  }

  function frame() {
    if (!ui.frame) {
      // No Referer: the chat page would take this page for where the visitor came from (chatUrl says it).
      var attrs = { src: chatUrl(), title: label(), allow: "autoplay; clipboard-write", referrerpolicy: "no-referrer" };
      ui.frame = el("iframe", "", attrs);
      ui.panel.appendChild(ui.frame);
    }
    return ui.frame;
  }

  function post(msg) {
    if (frameReady && ui.frame.contentWindow) {
      msg.gofly = 1;
      try {
        ui.frame.contentWindow.postMessage(msg, origin); // only to our chat page, never to another origin
      } catch (e) {
        /* not loaded yet: the page says "ready" when it is */
      }
    }
  }

  // Tells the chat page whether it is on screen (it counts unread messages only while it is not).
  function tell() {
    post({ type: "open", open: isOpen });
  }

  var lastHref = "";
  function pageCheck() {
    var href = String(window.location.href);
    if (!frameReady || href === lastHref || !/^https?:/.test(href)) return;
    lastHref = href;
    post({ type: "page", url: href.slice(0, 1000), title: String(titles.base() || "").slice(0, 200) });
  }

  function showBubble(name, img, message) {
    if (isOpen || !ui || ui.button.hidden || !message) return;
    ui.bubbleName.textContent = name || "";
    ui.bubbleMsg.textContent = message;
    img = safeImg(img) || (agent && agent.avatar) || "";
    ui.bubbleImg.hidden = !img;
    if (img) ui.bubbleImg.src = img;
    ui.bubble.hidden = false;
  }

  // --- the host page's title: flashes while messages wait unseen ---------------------------------

  var titles = (function () {
    var timer = null;
    var saved = null; // the page's own title while we flash
    var shown = null; // what we last wrote
    var on = false;
    function tick() {
      // The page changed its own title meanwhile (a single-page app): that is the one to restore.
      if (document.title !== shown) saved = document.title;
      on = !on;
      var n = isOpen ? unseen : unread;
      shown = document.title = on ? "(" + n + ") " + t("news") : saved;
    }
    return {
      update: function () {
        var n = isOpen ? unseen : unread;
        if (n > 0 && !timer) {
          saved = shown = document.title;
          timer = window.setInterval(tick, 1000);
          tick();
        } else if (n <= 0 && timer) {
          window.clearInterval(timer);
          timer = null;
          if (document.title === shown) document.title = saved;
          saved = null;
        }
      },
      base: function () {
        return timer && document.title === shown ? saved : document.title;
      },
    };
  })();

  function seen() {
    if (isOpen && unseen && document.visibilityState !== "hidden") {
      unseen = 0;
      titles.update();
    }
  }

  function render() {
    var state = online == null ? "unknown" : online ? "online" : "offline";
    ui.panel.hidden = !isOpen;
    ui.wrap.className = "gfw-w" + (truthy(opts.WITHOUT_BTN) ? " gfw-nb" : "") + (isOpen ? " gfw-o" : "");
    ui.wrap.setAttribute("data-state", state);
    if (isOpen) ui.bubble.hidden = true;
    ui.button.setAttribute("aria-expanded", isOpen ? "true" : "false");
    ui.sub.hidden = state === "unknown";
    ui.sub.textContent = state === "online" ? (agent && agent.name ? agent.name + " \u00b7 " : "") + t("online") : t("offline");
    ui.button.setAttribute(
      "aria-label",
      label() + (state === "unknown" ? "" : ", " + ui.sub.textContent) + (unread && !isOpen ? " (" + unread + " " + t("unread") + ")" : "")
    );
    ui.badge.hidden = isOpen || !unread;
    ui.badge.textContent = !unread ? "" : unread > 99 ? "99+" : String(unread);
    if (agent && agent.name) ui.title.textContent = agent.name;
    if (agent && agent.avatar) {
      ui.faceImg.src = agent.avatar;
      ui.faceImg.hidden = false;
      var icon = ui.faceImg.previousSibling;
      if (icon && icon.nodeName.toLowerCase() === "svg") icon.style.display = "none";
    }
    titles.update();
  }

  function receive(e) {
    var d = e.data;
    if (e.origin !== origin || !ui || !ui.frame || e.source !== ui.frame.contentWindow) return;
    if (!d || typeof d !== "object" || d.gofly !== 1) return;
    if (d.type === "ready") {
      frameReady = true;
      lastHref = ""; // a (re)loaded chat page hears where the visitor is
      tell();
      pageCheck();
    } else if (d.type === "unread") {
      unread = isOpen ? 0 : Math.max(0, parseInt(d.count, 10) || 0);
      render();
    } else if (d.type === "agent") {
      agent = { name: String(d.name || "").slice(0, 100), avatar: safeImg(d.avatar) || (agent && agent.avatar) || "" };
      if (typeof d.online === "boolean") online = d.online;
      render();
    } else if (d.type === "message") {
      // An agent's message: previewed while the panel is closed (the chat page words attachments and cards).
      if (!isOpen) {
        if (truthy(opts.AUTO_SHOW)) api.open();
        else showBubble(String(d.name || "").slice(0, 100), d.avatar, String(d.text || "").slice(0, 300));
      } else if (document.visibilityState === "hidden") {
        unseen++;
        titles.update();
      }
    } else if (d.type === "chatted") {
      chatted(true);
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
        log("GOFLY_URL is required");
        return api;
      }
      opts = o;
      base = String(o.URL).replace(/\/+$/, "");
      origin = originOf(base);
      var who = (o.ENT || "") + "." + (o.KEFU_ID || "");
      chattedKey = "gofly.chatted." + who;
      welcomedCookie = "gofly_welcomed_" + who.replace(/[^A-Za-z0-9_]/g, "_");
      visit = visitOf(); // on every page, so that the first one is remembered whether or not the chat opens there
      fetchState();
      whenBody(build);
      return api;
    },
    open: function () {
      if (!started) wanted = "open";
      if (!ui || !started || denied) return;
      isOpen = true;
      unread = 0;
      if (document.visibilityState !== "hidden") unseen = 0;
      frame();
      render();
      tell();
    },
    close: function () {
      if (!started) wanted = "close";
      if (!ui || !started || denied) return;
      isOpen = false; // the iframe stays: the conversation and its socket live on
      unseen = 0;
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
