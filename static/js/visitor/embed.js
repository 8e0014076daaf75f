/* GoFly visitor page, part 2: in the widget's panel (static/js/gofly-front.js), what the page and its host say. */
(function (V, G) {
  "use strict";

  var cfg = V.cfg;

  // The host page shows our unread count on its launcher, our agent in its panel and a preview of agents'
  // messages: it tells us whether its panel is open ({gofly: 1, type: "open"}) and which page the visitor
  // is on ("page"); we tell it "ready", "unread", "agent", "message", "chatted" (docs/protocol.md 5.14).
  // Sent to the host page's origin when known, else to any; taken only from it and our parent.
  var framed = window.parent !== window;
  var target = "*";
  try {
    // The loader passes the first page of the visit on the host's site: the host page's origin.
    target = new URL(cfg.landing_page || cfg.refer).origin;
    if (target === "null") target = "*";
  } catch (e) {
    target = "*";
  }
  // The loader's panel has no title bar of its own: our header is the panel's, and keeps room at its right
  // for the loader's close button, which lies over it.
  if (framed && /(^|&)widget=1(&|$)/.test(window.location.search.slice(1))) V.dom.app.classList.add("vchat--widget");

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

  function receive(e) {
    var d = e.data;
    if (e.source !== window.parent || (target !== "*" && e.origin !== target) || !d || d.gofly !== 1) return;
    if (d.type === "page") return hostPage(d.url, d.title);
    if (d.type !== "open") return;
    open = !!d.open;
    if (open && count) {
      count = 0;
      post({ type: "unread", count: 0 });
      // What came while the panel was closed was laid out in a frame of no size: show the newest.
      V.view.scrollToBottom();
    }
    if (open) V.reportRead(); // what came while the panel was closed is seen now
  }

  V.embed = {
    /** Listen to the host page and tell it we are here (once every part of the page is loaded). */
    start: function () {
      if (!framed) return;
      window.addEventListener("message", receive);
      post({ type: "ready" });
    },
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

  // --- the host page's page trail -------------------------------------------------------------------

  var pendingPage = null;
  /** The page of the operator's site the visitor is on (the widget's `page` frame): sent now, or the
   * latest one once the socket is back. */
  function hostPage(url, title) {
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return;
    pendingPage = { url: url.slice(0, 1000), title: typeof title === "string" ? title.slice(0, 200) : "" };
    V.sendPage();
    if (V.thread().maxId()) V.embed.chatted(true);
  }

  V.sendPage = function () {
    if (pendingPage && V.socket.send("page", pendingPage)) pendingPage = null;
  };
})(window.GoFlyVisitor, window.GoFly);
