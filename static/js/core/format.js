/* GoFly chat core: time formats, message content (links, product cards), rich text, timeline lines, previews. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var el = G.el, t = G.t;

  var lang = (document.documentElement.getAttribute("lang") || "en").replace("_", "-");
  var timeFmt, dayFmt, dateTimeFmt;
  try {
    timeFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
    dayFmt = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", weekday: "short" });
    dateTimeFmt = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    });
  } catch (e) {
    timeFmt = dayFmt = dateTimeFmt = { format: function (d) { return d.toLocaleString(); } };
  }

  function toDate(value) {
    if (!value) return null;
    var d = value instanceof Date ? value : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }
  function dayKey(d) {
    return d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
  }
  function formatTime(value) {
    var d = toDate(value);
    return d ? timeFmt.format(d) : "";
  }
  function formatDateTime(value) {
    var d = toDate(value);
    return d ? dateTimeFmt.format(d) : "";
  }
  function formatDay(d) {
    var today = new Date();
    var yesterday = new Date(today.getTime() - 86400000);
    if (dayKey(d) === dayKey(today)) return t("Today");
    if (dayKey(d) === dayKey(yesterday)) return t("Yesterday");
    return dayFmt.format(d);
  }
  /** Short relative label for lists: time today, otherwise the date. */
  function formatShort(value) {
    var d = toDate(value);
    if (!d) return "";
    if (dayKey(d) === dayKey(new Date())) return timeFmt.format(d);
    try {
      return new Intl.DateTimeFormat(lang, { month: "numeric", day: "numeric" }).format(d);
    } catch (e) {
      return d.toLocaleDateString();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Content rendering: plain text with links, and the original's product cards
  // ---------------------------------------------------------------------------------------------

  var URL_RE = /\bhttps?:\/\/[^\s<>"'，。、！？）]+/gi;

  function safeURL(value, allowRelative) {
    if (typeof value !== "string") return "";
    value = value.trim();
    if (/^https?:\/\//i.test(value)) return value;
    if (allowRelative && /^\/(static|media)\//.test(value)) return value;
    return "";
  }

  function linkify(text, parent) {
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]]+$/, "");
      if (offset > last) parent.appendChild(document.createTextNode(text.slice(last, offset)));
      parent.appendChild(
        el("a", { text: url, attrs: { href: url, target: "_blank", rel: "noopener noreferrer nofollow" } })
      );
      last = offset + url.length;
      return match;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function productCard(text) {
    var m = /^product\[(\{[\s\S]*\})\]$/.exec(text.trim());
    if (!m) return null;
    var p;
    try {
      p = JSON.parse(m[1]);
    } catch (e) {
      return null;
    }
    if (!p || typeof p !== "object") return null;
    var url = safeURL(p.url, true);
    var img = safeURL(p.img, true);
    var card = el(url ? "a" : "div", {
      className: "product-card",
      attrs: url ? { href: url, target: "_blank", rel: "noopener noreferrer nofollow" } : {},
    }, [
      img ? el("img", { className: "product-card__img", attrs: { src: img, alt: "", loading: "lazy" } }) : null,
      el("span", { className: "product-card__body" }, [
        el("span", { className: "product-card__title", text: p.title != null ? String(p.title) : "" }),
        p.price != null && p.price !== "" ? el("span", { className: "product-card__price", text: String(p.price) }) : null,
      ]),
    ]);
    return card;
  }

  function renderContent(content, parent) {
    var text = content == null ? "" : String(content);
    var card = productCard(text);
    if (card) {
      parent.classList.add("bubble--card");
      parent.appendChild(card);
      return;
    }
    linkify(text, parent);
  }

  // Rich text (welcome texts, replies/): the server's sanitised HTML, parsed inertly and rebuilt from the
  // allowed elements only (nh3's allow-list, again here): never assigned as markup, so nothing in it runs.
  var RICH_TAGS = { P: 1, BR: 1, B: 1, STRONG: 1, I: 1, EM: 1, U: 1, A: 1, UL: 1, OL: 1, LI: 1 };
  function richNodes(value) {
    var doc = new DOMParser().parseFromString("<body>" + String(value == null ? "" : value) + "</body>", "text/html");
    function rebuild(node, into) {
      node.childNodes.forEach(function (child) {
        if (child.nodeType === 3) into.appendChild(document.createTextNode(child.nodeValue));
        else if (child.nodeType !== 1) return;
        else if (!RICH_TAGS[child.tagName]) {
          if (child.tagName !== "SCRIPT" && child.tagName !== "STYLE") rebuild(child, into);
        } else {
          var copy = document.createElement(child.tagName.toLowerCase());
          if (child.tagName === "A") {
            var href = child.getAttribute("href") || "";
            if (/^https?:\/\//i.test(href)) copy.setAttribute("href", href);
            copy.setAttribute("target", "_blank");
            copy.setAttribute("rel", "noopener noreferrer nofollow");
          }
          rebuild(child, copy);
          into.appendChild(copy);
        }
      });
      return into;
    }
    return rebuild(doc.body, document.createDocumentFragment());
  }

  /** A timeline line of a conversation (a message of kind "event"), worded in the reader's language. */
  function eventText(code, meta) {
    var name = function (agent) {
      return agent && agent.name ? agent.name : t("an agent");
    };
    switch (code) {
      case "taken":
        return t("{name} took the conversation", { name: name(meta.agent) });
      case "assigned":
        return t("{name} is now serving", { name: name(meta.agent) });
      case "transferred":
        return meta.from
          ? t("{from} transferred the conversation to {to}", { from: name(meta.from), to: name(meta.to) })
          : t("The conversation was given to {to}", { to: name(meta.to) });
      case "closed":
        if (meta.by === "visitor") return t("The visitor ended the conversation");
        if (meta.by === "system") return t("The conversation was closed after a period of inactivity");
        if (meta.blocked) return t("{name} blocked the visitor and closed the conversation", { name: name(meta.agent) });
        return t("{name} closed the conversation", { name: name(meta.agent) });
      case "reopened":
        return t("{name} reopened the conversation", { name: name(meta.agent) });
      default:
        return code;
    }
  }

  /** One-line preview of a message for lists and notifications. */
  function previewText(content) {
    var text = content == null ? "" : String(content);
    if (/^img\[[^\]]*\]$/.test(text)) return "[" + t("Image") + "]";
    if (/^attachment\[/.test(text)) {
      var f = /"name"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
      var name = "";
      try {
        name = f ? JSON.parse('"' + f[1] + '"') : "";
      } catch (e) {
        name = "";
      }
      return "[" + t("File") + "] " + name;
    }
    if (/^product\[/.test(text)) {
      var m = /"title"\s*:\s*"([^"]*)"/.exec(text);
      return "[" + t("Product") + "] " + (m ? m[1] : "");
    }
    return text.replace(/\s+/g, " ").trim();
  }

  Object.assign(G, {
    formatTime: formatTime,
    formatDateTime: formatDateTime,
    formatShort: formatShort,
    formatDay: formatDay,
    toDate: toDate,
    dayKey: dayKey,
    renderContent: renderContent,
    richNodes: richNodes,
    previewText: previewText,
    eventText: eventText,
    safeURL: safeURL,
  });
})(window);
