/* GoFly console: the visitor details panel (who, where from, pages visited, their conversations), with room for what other files add. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var conversations = C.conversations;
  var vname = C.vname;
  var visitorAvatar = C.visitorAvatar;
  var describeDevice = C.describeDevice;
  var deviceKind = C.deviceKind;
  var agentName = C.agentName;

  function infoRow(label, value, opts) {
    opts = opts || {};
    var dd;
    if (opts.link && G.safeURL(value)) {
      dd = el("dd", {}, [el("a", { text: value, attrs: { href: G.safeURL(value), target: "_blank", rel: "noopener noreferrer nofollow" } })]);
    } else {
      dd = el("dd", { className: opts.mono ? "mono" : "", text: value === "" || value == null ? "—" : String(value) });
    }
    return [el("dt", { text: label }), dd];
  }

  var infoExtras = [];
  function renderInfo() {
    var v = visitors[state.selected];
    if (!v) {
      dom.infoBody.replaceChildren();
      return;
    }
    var basics = el("dl", { className: "info-list" });
    [
      infoRow(t("Visitor ID"), v.visitor_id, { mono: true }),
      infoRow(t("Status"), C.presenceText(v)),
      infoRow(t("IP address"), v.ip || ""),
      infoRow(t("Location"), v.city || ""),
      infoRow(t("ISP"), v.isp || ""),
      infoRow(t("OS"), v.os || ""),
      infoRow(t("Browser"), v.browser || ""),
      infoRow(t("Device"), [deviceKind(v), v.device_model].filter(Boolean).join(" · ")),
      infoRow(t("First visit"), G.formatDateTime(v.created_at)),
      infoRow(t("Last visit"), G.formatDateTime(v.updated_at)),
      infoRow(t("Visits"), v.visits != null ? v.visits : ""),
    ]
      // The phone or e-mail the visitor left with a message (services.offline_message_leave).
      .concat(v.extra && typeof v.extra.contact === "string" ? [infoRow(t("Contact"), v.extra.contact)] : [])
      .forEach(function (pair) {
        basics.append(pair[0], pair[1]);
      });

    var source = el("dl", { className: "info-list info-list--stacked" });
    [
      infoRow(t("Search words"), v.search_words || ""),
      infoRow(t("Referrer"), v.referrer || "", { link: true }),
      infoRow(t("Landing page"), v.landing_page || "", { link: true }),
      infoRow(t("User agent"), v.user_agent || "", { mono: true }),
    ].forEach(function (pair) {
      source.append(pair[0], pair[1]);
    });

    // The product the visitor looks at (extra.visitorProduct, checked at login): a card, not a row of JSON.
    var product = v.extra && v.extra.visitorProduct && typeof v.extra.visitorProduct === "object" ? v.extra.visitorProduct : null;
    var productCard = null;
    if (product) {
      productCard = el("div", { className: "info-product" });
      G.renderContent("product[" + JSON.stringify(product) + "]", productCard);
    }
    var extraKeys = v.extra && typeof v.extra === "object" ? Object.keys(v.extra) : [];
    if (productCard) {
      extraKeys = extraKeys.filter(function (key) {
        return key !== "visitorProduct";
      });
    }
    var extra = el("dl", { className: "info-list info-list--stacked" });
    extraKeys.forEach(function (key) {
      var value = v.extra[key];
      var text = value == null || value === "" ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
      var pair = infoRow(key, text, { mono: typeof value === "object" });
      extra.append(pair[0], pair[1]);
    });

    var sections = [
      el("div", { className: "info-card" }, [
        el("img", { className: "avatar avatar--lg", attrs: { src: visitorAvatar(v), alt: "", width: 56, height: 56 } }),
        el("div", { className: "info-card__name", text: vname(v) }),
        v.real_name && v.name !== v.real_name ? el("div", { className: "info-card__sub", text: v.name }) : null,
        el("div", { className: "info-card__sub", text: [v.city, describeDevice(v)].filter(Boolean).join(" · ") }),
      ]),
    ].concat(
      // What console-workspace.js adds: remark name and tags.
      infoExtras.map(function (build) {
        return build(v);
      }),
      [
      el("section", { className: "info-section" }, [el("h3", { text: t("Visitor") }), basics]),
      el("section", { className: "info-section" }, [el("h3", { text: t("Source") }), source]),
      pagesSection(v),
      conversationsSection(v),
      productCard ? el("section", { className: "info-section" }, [el("h3", { text: t("Product being viewed") }), productCard]) : null,
      el("section", { className: "info-section" }, [
        el("h3", { text: t("Extra") }),
        extraKeys.length ? extra : el("p", { className: "muted", text: t("No extra information.") }),
      ]),
    ]);
    dom.infoBody.replaceChildren.apply(dom.infoBody, sections.filter(Boolean));
    // Sections other modules add (console-blacklist.js), to the details just drawn.
    document.dispatchEvent(new CustomEvent("gofly:info-rendered", { detail: { visitor: v } }));
  }

  /** The visitor's conversations, newest first (the details endpoint's `conversations`): one opens it. */
  function conversationsSection(v) {
    var STATUS = { waiting: t("Waiting"), open: t("Open"), closed: t("Closed") };
    var mine = Object.keys(conversations)
      .map(function (id) {
        return conversations[id];
      })
      .filter(function (c) {
        return c && c.visitor_id === v.visitor_id;
      })
      .sort(function (a, b) {
        return b.id - a.id;
      });
    var list = el(
      "ol",
      { className: "info-convs" },
      mine.map(function (c) {
        return el("li", {}, [
          el("button", {
            className: "info-convs__item",
            attrs: { type: "button" },
            text: [G.formatDateTime(c.created_at), STATUS[c.status] || c.status, agentName(c.assignee)].filter(Boolean).join(" · "),
            on: {
              click: function () {
                C.select(v.visitor_id, c.id);
              },
            },
          }),
        ]);
      })
    );
    return el("section", { className: "info-section", attrs: { id: "info-conversations" } }, [
      el("h3", { text: t("Conversations") }),
      mine.length ? list : el("p", { className: "muted", text: t("No conversations yet.") }),
    ]);
  }

  /** The pages of the operator's site the visitor opened (the widget's page trail), newest first. */
  function pagesSection(v) {
    var pages = v.pages || [];
    var list = el(
      "ol",
      { className: "page-trail" },
      pages.map(function (p) {
        var url = G.safeURL(p.url);
        var name = p.title || p.url;
        return el("li", { className: "page-trail__item" }, [
          url
            ? el("a", { text: name, attrs: { href: url, title: p.url, target: "_blank", rel: "noopener noreferrer" } })
            : el("span", { text: name }),
          el("time", { className: "page-trail__time", text: G.formatShort(p.created_at), attrs: { datetime: p.created_at, title: G.formatDateTime(p.created_at) } }),
        ]);
      })
    );
    return el("section", { className: "info-section", attrs: { id: "info-pages" } }, [
      el("h3", { text: t("Pages visited") }),
      pages.length ? list : el("p", { className: "muted", text: t("No pages yet.") }),
    ]);
  }

  /**
   * The visitor's page trail with pages from another source merged in, newest (highest id) first: the
   * details answer and the live `visitor.page` events can arrive in either order, and neither may drop
   * what the other brought.
   */
  function mergePages(current, more) {
    var byId = {};
    (current || []).concat(more || []).forEach(function (p) {
      if (p && p.id != null) byId[p.id] = p;
    });
    return Object.keys(byId)
      .map(function (id) {
        return byId[id];
      })
      .sort(function (a, b) {
        return b.id - a.id;
      })
      .slice(0, 50);
  }

  Object.assign(C, {
    infoExtras: infoExtras,
    renderInfo: renderInfo,
    mergePages: mergePages,
  });
})(window.GoFlyConsole);
