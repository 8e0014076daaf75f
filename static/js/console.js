/* GoFly agent console (/console): live visitor list, conversations, visitor details, notifications. */
(function () {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var page = G.boot();
  var cfg = page.cfg;
  var assets = page.assets;
  var me = cfg.agent || {};

  var PAGE_SIZE = 20;
  var TYPING_TTL = 6000;
  var OUTBOX_KEY = "gofly.outbox.agent." + me.id;
  var NOTIFY_DISMISSED_KEY = "gofly.notify.dismissed";

  var $ = function (id) {
    return document.getElementById(id);
  };
  var dom = {
    workspace: $("workspace"),
    conn: $("conn-status"),
    connText: $("conn-status-text"),
    mute: $("mute-toggle"),
    notifyBanner: $("notify-banner"),
    notifyEnable: $("notify-enable"),
    notifyDismiss: $("notify-dismiss"),
    fatal: $("console-fatal"),
    fatalText: $("console-fatal-text"),
    tabs: document.querySelectorAll("[data-tab]"),
    onlineCount: $("online-count"),
    search: $("visitor-search"),
    list: $("visitor-list"),
    listEmpty: $("visitor-list-empty"),
    chatEmpty: $("chat-empty"),
    chat: $("chat-panel"),
    chatAvatar: $("chat-avatar"),
    chatName: $("chat-name"),
    chatSub: $("chat-sub"),
    chatBack: $("chat-back"),
    infoToggle: $("info-toggle"),
    messages: $("messages"),
    peek: $("typing-peek"),
    peekText: $("typing-peek-text"),
    input: $("composer-input"),
    send: $("composer-send"),
    emoji: $("composer-emoji"),
    info: $("info"),
    infoBody: $("info-body"),
    infoClose: $("info-close"),
  };

  var state = {
    selected: null,
    tab: "online",
    filter: "",
    cursor: 0, // highest message id held across the enterprise: where a reconnect's sync starts
    readyOnce: false,
    syncing: false, // from a reconnect's `ready` until its last `history` page: threads may lack what summaries count
    recentLoaded: false,
    loadingOlder: false,
  };
  var visitors = {}; // visitor_id -> summary (+ local fields)
  var threads = {}; // visitor_id -> Thread
  var rows = {}; // visitor_id -> <li>
  var drafts = {};
  var lastReadSent = {};
  var title = new G.TitleFlasher(document.title);

  // --- helpers ---------------------------------------------------------------------------------

  function threadFor(vid) {
    return threads[vid] || (threads[vid] = new G.Thread());
  }

  function visitorAvatar(v) {
    return (v && G.safeURL(v.avatar, true)) || assets.visitor_avatar;
  }
  function agentAvatar(agent) {
    return (agent && G.safeURL(agent.avatar, true)) || assets.agent_avatar;
  }

  function activityTime(v) {
    var d = G.toDate((v.last_message && v.last_message.created_at) || v.updated_at || v.created_at);
    return d ? d.getTime() : 0;
  }

  function totalUnread() {
    var n = 0;
    Object.keys(visitors).forEach(function (vid) {
      n += visitors[vid].unread || 0;
    });
    return n;
  }

  function upsertVisitor(summary) {
    var v = visitors[summary.visitor_id];
    if (!v) v = visitors[summary.visitor_id] = { unread: 0, typing: "" };
    var keepLast = v.last_message && summary.last_message && v.last_message.id > summary.last_message.id;
    var last = v.last_message;
    Object.assign(v, summary);
    if (keepLast) v.last_message = last;
    if ("unread" in summary) v.countedUpTo = summary.last_message ? summary.last_message.id : 0;
    return v;
  }

  // A compact "Browser · OS" from the user agent, enough to tell a phone from a desktop at a glance.
  function describeUA(ua) {
    if (!ua) return "";
    var browser =
      (/MicroMessenger\/([\d.]+)/.exec(ua) && "WeChat") ||
      (/Edg\/([\d]+)/.exec(ua) && "Edge " + /Edg\/([\d]+)/.exec(ua)[1]) ||
      (/QQBrowser\/([\d]+)/.exec(ua) && "QQ Browser") ||
      (/UCBrowser\/([\d]+)/.exec(ua) && "UC Browser") ||
      (/Firefox\/([\d]+)/.exec(ua) && "Firefox " + /Firefox\/([\d]+)/.exec(ua)[1]) ||
      (/(?:Chrome|CriOS)\/([\d]+)/.exec(ua) && "Chrome " + /(?:Chrome|CriOS)\/([\d]+)/.exec(ua)[1]) ||
      (/Version\/([\d.]+).*Safari/.exec(ua) && "Safari " + /Version\/([\d]+)/.exec(ua)[1]) ||
      "";
    var os =
      (/Windows NT 10/.test(ua) && "Windows 10/11") ||
      (/Windows NT ([\d.]+)/.exec(ua) && "Windows") ||
      (/(iPhone|iPad).*OS ([\d_]+)/.exec(ua) && "iOS " + /OS ([\d_]+)/.exec(ua)[1].replace(/_/g, ".")) ||
      (/Android ([\d.]+)/.exec(ua) && "Android " + /Android ([\d.]+)/.exec(ua)[1]) ||
      (/Mac OS X/.test(ua) && "macOS") ||
      (/Linux/.test(ua) && "Linux") ||
      "";
    return [browser, os].filter(Boolean).join(" · ");
  }

  function isMobileUA(ua) {
    return /Mobile|iPhone|Android|iPod/i.test(ua || "");
  }

  // --- visitor list ----------------------------------------------------------------------------

  var listScheduled = false;
  function scheduleList() {
    if (listScheduled) return;
    listScheduled = true;
    requestAnimationFrame(function () {
      listScheduled = false;
      renderList();
    });
  }

  function listed(v) {
    if (state.filter) {
      var q = state.filter;
      var hay = (v.name + " " + v.visitor_id + " " + (v.city || "") + " " + (v.ip || "")).toLowerCase();
      if (hay.indexOf(q) < 0) return false;
    }
    if (state.tab === "online") return v.online || v.unread > 0 || v.visitor_id === state.selected;
    return true;
  }

  function renderList() {
    var ids = Object.keys(visitors).filter(function (vid) {
      return listed(visitors[vid]);
    });
    ids.sort(function (a, b) {
      var va = visitors[a], vb = visitors[b];
      if (state.tab === "online" && !!va.online !== !!vb.online) return va.online ? -1 : 1;
      return activityTime(vb) - activityTime(va);
    });
    var frag = document.createDocumentFragment();
    ids.forEach(function (vid) {
      frag.appendChild(renderRow(visitors[vid]));
    });
    dom.list.replaceChildren(frag);
    dom.listEmpty.hidden = ids.length > 0;
    dom.listEmpty.textContent = state.filter
      ? t("No visitor matches.")
      : state.tab === "online"
        ? t("No visitors online right now. New visitors will appear here.")
        : t("No visitors yet.");
    var online = Object.keys(visitors).filter(function (vid) {
      return visitors[vid].online;
    }).length;
    dom.onlineCount.textContent = String(online);
    title.set(totalUnread());
  }

  function renderRow(v) {
    var row = rows[v.visitor_id];
    if (!row) {
      row = rows[v.visitor_id] = el("li", { className: "vrow", dataset: { visitorId: v.visitor_id } });
    }
    var typing = v.typing && v.typingUntil > Date.now();
    var last = v.last_message;
    var preview = typing
      ? t("Typing: {text}", { text: v.typing })
      : last
        ? (last.sender === "agent" ? "↩ " : "") + G.previewText(last.content)
        : t("No messages yet");
    var sig = [v.name, v.online, v.unread, preview, typing, v.visitor_id === state.selected, activityTime(v), v.avatar, v.city].join("|");
    if (row._sig === sig) return row;
    row._sig = sig;
    row.className = "vrow" + (v.visitor_id === state.selected ? " is-active" : "") + (v.online ? "" : " is-offline") +
      (v.unread ? " has-unread" : "");
    row.replaceChildren(
      el(
        "button",
        {
          className: "vrow__btn",
          attrs: { type: "button", "aria-current": v.visitor_id === state.selected ? "true" : false },
          on: {
            click: function () {
              select(v.visitor_id);
            },
          },
        },
        [
          el("span", { className: "avatar-wrap" }, [
            el("img", { className: "avatar", attrs: { src: visitorAvatar(v), alt: "", width: 36, height: 36 } }),
            el("span", {
              className: "presence" + (v.online ? " presence--on" : ""),
              attrs: { title: v.online ? t("Online") : t("Offline") },
            }),
          ]),
          el("span", { className: "vrow__main" }, [
            el("span", { className: "vrow__top" }, [
              el("span", { className: "vrow__name", text: v.name || v.visitor_id }),
              el("time", { className: "vrow__time", text: G.formatShort(last ? last.created_at : v.updated_at) }),
            ]),
            el("span", { className: "vrow__bottom" }, [
              el("span", { className: "vrow__preview" + (typing ? " is-typing" : ""), text: preview }),
              v.unread
                ? el("span", {
                    className: "badge",
                    text: v.unread > 99 ? "99+" : String(v.unread),
                    attrs: { "aria-label": t("{n} unread", { n: v.unread }) },
                  })
                : null,
            ]),
          ]),
        ]
      )
    );
    return row;
  }

  // --- conversation ----------------------------------------------------------------------------

  var loadMoreButton = el("button", {
    className: "load-more",
    text: t("Load earlier messages"),
    attrs: { type: "button" },
    on: { click: loadOlder },
  });

  var view = new G.ThreadView(dom.messages, {
    self: "agent",
    avatar: function (rec) {
      return rec.sender === "visitor" ? visitorAvatar(visitors[state.selected]) : agentAvatar(rec.agent);
    },
    name: function (rec) {
      if (rec.sender === "agent") return rec.agent ? (rec.agent.id === me.id ? t("You") : rec.agent.name) : t("Agent");
      var v = visitors[state.selected];
      return v ? v.name : "";
    },
    onRetry: function (rec) {
      outbox.retry(rec.client_id);
    },
    onDiscard: function (rec) {
      outbox.discard(rec.client_id);
      threadFor(state.selected).remove(rec);
      view.render();
    },
    leading: function () {
      var thread = state.selected && threads[state.selected];
      if (!thread) return [];
      if (!thread.loaded) return [el("div", { className: "thread-loading", text: t("Loading…") })];
      if (thread.more) {
        loadMoreButton.disabled = state.loadingOlder;
        loadMoreButton.textContent = state.loadingOlder ? t("Loading…") : t("Load earlier messages");
        return [loadMoreButton];
      }
      return [el("div", { className: "thread-start", text: t("Beginning of the conversation") })];
    },
  });

  function renderChatHeader() {
    var v = visitors[state.selected];
    if (!v) return;
    dom.chatAvatar.src = visitorAvatar(v);
    dom.chatName.textContent = v.name || v.visitor_id;
    var typing = v.typing && v.typingUntil > Date.now();
    var bits = [v.online ? t("Online") : t("Offline")];
    if (v.city) bits.push(v.city);
    else if (v.ip) bits.push(v.ip);
    dom.chatSub.replaceChildren(
      el("span", { className: "presence presence--inline" + (v.online ? " presence--on" : "") }),
      el("span", { text: bits.join(" · ") })
    );
    if (typing) dom.chatSub.appendChild(el("span", { className: "chat__typing", text: t("typing…") }));
    dom.peek.hidden = !typing;
    if (typing) dom.peekText.textContent = v.typing;
  }

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

  function renderInfo() {
    var v = visitors[state.selected];
    if (!v) {
      dom.infoBody.replaceChildren();
      return;
    }
    var basics = el("dl", { className: "info-list" });
    [
      infoRow(t("Visitor ID"), v.visitor_id, { mono: true }),
      infoRow(t("Status"), v.online ? t("Online") : t("Offline")),
      infoRow(t("IP address"), v.ip || ""),
      infoRow(t("Location"), v.city || ""),
      infoRow(t("Device"), describeUA(v.user_agent) || ""),
      infoRow(t("First visit"), G.formatDateTime(v.created_at)),
      infoRow(t("Last visit"), G.formatDateTime(v.updated_at)),
      infoRow(t("Visits"), v.visits != null ? v.visits : ""),
    ].forEach(function (pair) {
      basics.append(pair[0], pair[1]);
    });

    var source = el("dl", { className: "info-list info-list--stacked" });
    [
      infoRow(t("Referrer"), v.referrer || "", { link: true }),
      infoRow(t("Landing page"), v.landing_page || "", { link: true }),
      infoRow(t("User agent"), v.user_agent || "", { mono: true }),
    ].forEach(function (pair) {
      source.append(pair[0], pair[1]);
    });

    var extraKeys = v.extra && typeof v.extra === "object" ? Object.keys(v.extra) : [];
    var extra = el("dl", { className: "info-list info-list--stacked" });
    extraKeys.forEach(function (key) {
      var value = v.extra[key];
      var text = value == null || value === "" ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
      var pair = infoRow(key, text, { mono: typeof value === "object" });
      extra.append(pair[0], pair[1]);
    });

    dom.infoBody.replaceChildren(
      el("div", { className: "info-card" }, [
        el("img", { className: "avatar avatar--lg", attrs: { src: visitorAvatar(v), alt: "", width: 56, height: 56 } }),
        el("div", { className: "info-card__name", text: v.name || v.visitor_id }),
        el("div", { className: "info-card__sub", text: isMobileUA(v.user_agent) ? t("Mobile visitor") : t("Desktop visitor") }),
      ]),
      el("section", { className: "info-section" }, [el("h3", { text: t("Visitor") }), basics]),
      el("section", { className: "info-section" }, [el("h3", { text: t("Source") }), source]),
      el("section", { className: "info-section" }, [
        el("h3", { text: t("Extra") }),
        extraKeys.length ? extra : el("p", { className: "muted", text: t("No extra information.") }),
      ])
    );
  }

  function select(vid) {
    if (!visitors[vid]) return;
    if (state.selected && state.selected !== vid) drafts[state.selected] = dom.input.value;
    var changed = state.selected !== vid;
    state.selected = vid;
    dom.workspace.classList.add("has-selection");
    dom.chatEmpty.hidden = true;
    dom.chat.hidden = false;
    var thread = threadFor(vid);
    if (changed) {
      state.loadingOlder = false;
      view.show(thread);
      dom.input.value = drafts[vid] || "";
      composer.grow();
    }
    renderChatHeader();
    renderInfo();
    scheduleList();
    dom.input.disabled = false;
    if (window.matchMedia("(min-width: 761px)").matches) dom.input.focus();
    if (!thread.loaded) {
      loadPage(vid).then(function () {
        if (state.selected === vid) view.render({ stick: true });
        markRead(vid);
      });
    } else {
      markRead(vid);
    }
    // Details may have changed since the list was built (a new visit, a new city).
    G.api("GET", "/api/v1/agent/visitors/" + encodeURIComponent(vid)).then(function (res) {
      if (res.ok && res.data && visitors[vid]) {
        var v = visitors[vid];
        ["name", "avatar", "city", "ip", "referrer", "landing_page", "user_agent", "extra", "visits", "created_at", "updated_at"].forEach(
          function (k) {
            if (k in res.data) v[k] = res.data[k];
          }
        );
        if (state.selected === vid) {
          renderInfo();
          renderChatHeader();
        }
        scheduleList();
      }
    });
  }

  function loadPage(vid, before) {
    var thread = threadFor(vid);
    var url = "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/messages?limit=" + PAGE_SIZE + (before ? "&before=" + before : "");
    return G.api("GET", url).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        if (res.status === 401) window.location.href = "/login?next=/console";
        return;
      }
      if (!res.ok || !res.data) return;
      thread.mergePage(res.data.messages, res.data.more, function (m) {
        mergeMessage(m, true);
      });
    });
  }

  function loadOlder() {
    var vid = state.selected;
    if (!vid || state.loadingOlder) return;
    state.loadingOlder = true;
    view.render({ keepTop: true });
    loadPage(vid, threadFor(vid).pageCursor).then(function () {
      state.loadingOlder = false;
      if (state.selected === vid) view.render({ keepTop: true });
    });
  }

  function inView(vid) {
    return vid === state.selected && document.visibilityState === "visible";
  }

  var readTimers = {};
  function markRead(vid) {
    var v = visitors[vid];
    if (!v || !inView(vid) || !v.unread) return;
    var upTo = Math.max(threadFor(vid).maxId("visitor"), v.last_message && v.last_message.sender === "visitor" ? v.last_message.id : 0);
    v.unread = 0;
    scheduleList();
    if (!upTo || upTo <= (lastReadSent[vid] || 0)) return;
    clearTimeout(readTimers[vid]);
    // Coalesce a burst of messages into one read receipt.
    readTimers[vid] = setTimeout(function () {
      sendRead(vid, upTo);
    }, 150);
  }

  // A read receipt that could not be sent is kept and sent after the next connect, so the badge the
  // server computes for every agent agrees with what this agent has seen.
  var pendingReads = {};
  function sendRead(vid, upTo) {
    lastReadSent[vid] = Math.max(lastReadSent[vid] || 0, upTo);
    if (socket.send("read", { visitor_id: vid, up_to: upTo })) {
      delete pendingReads[vid];
      return;
    }
    pendingReads[vid] = Math.max(pendingReads[vid] || 0, upTo);
    G.api("POST", "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/read", { up_to: upTo }).then(function (res) {
      if (res.ok && pendingReads[vid] <= upTo) delete pendingReads[vid];
    });
  }
  function flushReads() {
    Object.keys(pendingReads).forEach(function (vid) {
      sendRead(vid, pendingReads[vid]);
    });
  }

  // --- messages in -----------------------------------------------------------------------------

  /**
   * Merge a server message anywhere; returns true when it is a visitor message this console had not
   * seen (live or by sync). It adds to the unread count unless a summary (ready frame, visitor list) already counted it.
   */
  function mergeMessage(msg, fromPage) {
    if (msg.id > state.cursor) state.cursor = msg.id;
    var vid = msg.visitor_id;
    // Ours, or another tab's (whose copy in the shared outbox is then done with).
    if (msg.sender === "agent" && msg.client_id) outbox.resolve(msg.client_id);
    var result = threadFor(vid).merge(msg);
    var v = visitors[vid];
    if (!v) {
      v = visitors[vid] = { visitor_id: vid, name: vid.slice(-6), online: false, unread: 0, typing: "", countedUpTo: 0 };
      fetchSummary(vid);
    }
    if (!v.last_message || msg.id >= v.last_message.id) {
      v.last_message = { id: msg.id, content: msg.content, sender: msg.sender, kind: msg.kind, created_at: msg.created_at };
    }
    // History pages are the past: the unread count of a listed visitor comes from the server.
    if (!result.isNew || msg.sender !== "visitor" || fromPage) return false;
    if (msg.id > (v.countedUpTo || 0)) v.unread = (v.unread || 0) + 1;
    v.typing = "";
    return true;
  }

  var summaryFetches = {};
  function fetchSummary(vid) {
    if (summaryFetches[vid]) return;
    summaryFetches[vid] = true;
    G.api("GET", "/api/v1/agent/visitors/" + encodeURIComponent(vid)).then(function (res) {
      delete summaryFetches[vid];
      if (!res.ok || !res.data || !visitors[vid]) return;
      var v = visitors[vid];
      Object.keys(res.data).forEach(function (k) {
        if (k !== "online") v[k] = res.data[k];
      });
      scheduleList();
      if (state.selected === vid) {
        renderChatHeader();
        renderInfo();
      }
    });
  }

  function onNewVisitorMessage(msg, live) {
    var vid = msg.visitor_id;
    if (inView(vid)) {
      markRead(vid);
      return;
    }
    if (!live) return;
    var v = visitors[vid];
    G.playSound(assets.sound_message);
    title.set(totalUnread(), true);
    desktopNotify(t("{name} says", { name: v ? v.name : t("Visitor") }), G.previewText(msg.content).slice(0, 140), vid, "msg-" + vid);
  }

  // --- notifications ---------------------------------------------------------------------------

  function desktopNotify(heading, body, vid, tag) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(heading, { body: body, tag: tag, icon: assets.logo, silent: true });
      n.onclick = function () {
        window.focus();
        if (vid) select(vid);
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

  // --- outbox ----------------------------------------------------------------------------------

  var outbox = new G.Outbox({
    key: OUTBOX_KEY,
    transmit: function (item) {
      return socket.send("message.send", { client_id: item.client_id, content: item.content, visitor_id: item.visitor_id });
    },
    onChange: function (item, itemState) {
      var rec = threadFor(item.visitor_id).findClient("agent", item.client_id);
      if (!rec) return;
      rec.state = itemState === "failed" ? "failed" : "sending";
      rec.error = item.error;
      if (state.selected === item.visitor_id) view.render();
    },
  });
  outbox.items.forEach(function (item) {
    if (!item.visitor_id) return;
    threadFor(item.visitor_id).merge(
      { client_id: item.client_id, sender: "agent", kind: "text", content: item.content, local: item.created, agent: me },
      item.state === "failed" ? "failed" : "sending"
    );
  });

  function send(text) {
    var vid = state.selected;
    if (!vid) return false;
    var item = outbox.add(text, { visitor_id: vid });
    threadFor(vid).merge(
      { client_id: item.client_id, sender: "agent", kind: "text", content: text, local: item.created, agent: me },
      "sending"
    );
    drafts[vid] = "";
    view.render({ stick: true });
    return true;
  }

  // --- websocket -------------------------------------------------------------------------------

  var deferredReads = []; // `read` events that came while a reconnect's sync was under way
  function applyRead(data) {
    var v = visitors[data.visitor_id];
    if (!v) return;
    var thread = threads[data.visitor_id];
    var lastVisitorId = thread ? thread.maxId("visitor") : 0;
    if (v.last_message && v.last_message.sender === "visitor") lastVisitorId = Math.max(lastVisitorId, v.last_message.id);
    if (data.up_to >= lastVisitorId) v.unread = 0;
    else if (thread) {
      v.unread = Math.min(
        v.unread,
        thread.records.filter(function (r) {
          return r.sender === "visitor" && r.id > data.up_to;
        }).length
      );
    }
    if (data.up_to > (lastReadSent[data.visitor_id] || 0)) lastReadSent[data.visitor_id] = data.up_to;
    scheduleList();
  }

  var handlers = {
    ready: function (data) {
      if (data.agent) {
        me = Object.assign(me, data.agent);
      }
      var online = {};
      (data.visitors || []).forEach(function (s) {
        online[s.visitor_id] = true;
        upsertVisitor(s).online = true;
      });
      Object.keys(visitors).forEach(function (vid) {
        if (!online[vid]) visitors[vid].online = false;
      });
      if (!state.readyOnce) {
        state.readyOnce = true;
        state.cursor = Math.max(state.cursor, data.last_message_id || 0);
        outbox.setReady(true);
      } else {
        outbox.setReady(false);
        state.syncing = true;
        socket.send("sync", { after: state.cursor });
      }
      // The summaries still count what this agent read but could not report; report it now.
      Object.keys(pendingReads).forEach(function (vid) {
        if (visitors[vid] && visitors[vid].last_message && visitors[vid].last_message.id <= pendingReads[vid]) {
          visitors[vid].unread = 0;
        }
      });
      flushReads();
      if (state.selected) {
        renderChatHeader();
        markRead(state.selected);
      }
      scheduleList();
    },
    history: function (data) {
      var fresh = [];
      (data.messages || []).forEach(function (m) {
        if (mergeMessage(m)) fresh.push(m);
      });
      fresh.forEach(function (m) {
        onNewVisitorMessage(m, false);
      });
      var missed = fresh.filter(function (m) {
        return !inView(m.visitor_id);
      });
      if (missed.length) {
        // Messages that came while the socket was down: one ring and one notification for the lot.
        var lastMissed = missed[missed.length - 1];
        var who = visitors[lastMissed.visitor_id];
        G.playSound(assets.sound_message);
        title.set(totalUnread(), true);
        desktopNotify(
          missed.length === 1 ? t("{name} says", { name: who ? who.name : t("Visitor") }) : t("{n} new messages", { n: missed.length }),
          G.previewText(lastMissed.content).slice(0, 140),
          lastMissed.visitor_id,
          "missed"
        );
      }
      if (state.selected) view.render();
      scheduleList();
      if (data.more) {
        socket.send("sync", { after: state.cursor });
        return;
      }
      outbox.setReady(true);
      state.syncing = false;
      deferredReads.splice(0).forEach(applyRead);
    },
    "message.new": function (msg) {
      var fresh = mergeMessage(msg);
      if (fresh) onNewVisitorMessage(msg, true);
      if (msg.visitor_id === state.selected) {
        if (msg.sender === "visitor") renderChatHeader();
        view.render();
      }
      scheduleList();
    },
    "message.ack": function (data) {
      var item = outbox.resolve(data.client_id);
      if (!item) return;
      var thread = threadFor(item.visitor_id);
      if (thread.findClient("agent", data.client_id)) {
        thread.merge({ id: data.id, client_id: data.client_id, sender: "agent", created_at: data.created_at });
        if (data.id > state.cursor) state.cursor = data.id;
        if (state.selected === item.visitor_id) view.render();
      }
    },
    "visitor.online": function (summary) {
      var before = visitors[summary.visitor_id];
      var arrival = !before || !before.online;
      var recentlyHere = before && before.offlineAt && Date.now() - before.offlineAt < 60000;
      var v = upsertVisitor(summary);
      v.online = true;
      if (arrival && !recentlyHere) {
        G.playSound(assets.sound_arrival);
        if (document.visibilityState === "hidden") title.set(totalUnread(), true);
        var where = [v.city, describeUA(v.user_agent)].filter(Boolean).join(" · ");
        desktopNotify(t("New visitor: {name}", { name: v.name }), where || v.landing_page || "", v.visitor_id, "arrival-" + v.visitor_id);
      }
      if (state.selected === v.visitor_id) {
        renderChatHeader();
        renderInfo();
      }
      scheduleList();
    },
    "visitor.offline": function (data) {
      var v = visitors[data.visitor_id];
      if (!v) return;
      v.online = false;
      v.offlineAt = Date.now();
      v.typing = "";
      if (state.selected === v.visitor_id) {
        renderChatHeader();
        renderInfo();
      }
      scheduleList();
    },
    typing: function (data) {
      var v = visitors[data.visitor_id];
      if (!v || data.sender !== "visitor") return;
      v.typing = (data.content || "").trim();
      v.typingUntil = Date.now() + TYPING_TTL;
      clearTimeout(v.typingTimer);
      v.typingTimer = setTimeout(function () {
        v.typing = "";
        scheduleList();
        if (state.selected === v.visitor_id) renderChatHeader();
      }, TYPING_TTL);
      if (state.selected === v.visitor_id) renderChatHeader();
      scheduleList();
    },
    read: function (data) {
      // The rest of a partly read conversation is counted from its thread, which lacks what the sync
      // is still bringing (the ready's summary already counts it): such a read waits for the sync.
      if (state.syncing) deferredReads.push(data);
      else applyRead(data);
    },
    agents: function () {},
    error: function (data) {
      if (data.ref && outbox.get(data.ref)) outbox.error(data.ref, data.code, data.message);
    },
  };

  var CONN_LABELS = {
    open: "Connected",
    connecting: "Connecting…",
    waiting: "Reconnecting…",
    offline: "Offline",
    stopped: "Disconnected",
  };
  var socket = new G.Socket({
    url: function () {
      return G.wsURL("/ws/agent");
    },
    onFrame: function (type, data) {
      if (handlers[type]) handlers[type](data);
    },
    onStatus: function (status) {
      dom.conn.dataset.state = status;
      dom.connText.textContent = t(CONN_LABELS[status] || status);
    },
    onDown: function () {
      outbox.setReady(false);
    },
    onUnauthenticated: function () {
      window.location.href = "/login?next=" + encodeURIComponent("/console");
    },
    onForbidden: function (err) {
      dom.fatal.hidden = false;
      dom.fatalText.textContent = (err && err.message) || t("The console cannot connect from this address.");
    },
  });

  // --- UI wiring -------------------------------------------------------------------------------

  var composer = new G.Composer(dom.input, dom.send, {
    maxLength: cfg.max_length || 5000,
    onTooLong: function () {
      dom.input.setCustomValidity(t("Message is too long."));
      dom.input.reportValidity();
      setTimeout(function () {
        dom.input.setCustomValidity("");
      }, 2000);
    },
    onSend: send,
    onTyping: function () {
      if (state.selected) socket.send("typing", { visitor_id: state.selected });
    },
  });
  G.EmojiPicker(dom.emoji, dom.input);

  Array.prototype.forEach.call(dom.tabs, function (tab) {
    tab.addEventListener("click", function () {
      state.tab = tab.dataset.tab;
      Array.prototype.forEach.call(dom.tabs, function (other) {
        other.setAttribute("aria-selected", String(other === tab));
        other.classList.toggle("is-active", other === tab);
      });
      if (state.tab === "recent" && !state.recentLoaded) loadRecent();
      scheduleList();
    });
  });

  function loadRecent() {
    G.api("GET", "/api/v1/agent/visitors").then(function (res) {
      if (!res.ok || !res.data) return;
      state.recentLoaded = true;
      res.data.visitors.forEach(function (s) {
        var known = visitors[s.visitor_id];
        var online = known ? known.online : s.online;
        upsertVisitor(s).online = online;
      });
      scheduleList();
    });
  }

  dom.search.addEventListener("input", function () {
    state.filter = dom.search.value.trim().toLowerCase();
    scheduleList();
  });

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
    if (document.visibilityState === "visible" && state.selected) markRead(state.selected);
  });

  // Typing previews expire on their own; refresh the relative bits once in a while.
  setInterval(scheduleList, 30000);

  renderNotifyBanner();
  renderMute();
  renderList();
  socket.connect();

  // For tests: a read-only peek at the console's state.
  window.GoFlyConsole = {
    state: state,
    visitors: visitors,
    threads: threads,
    outbox: outbox,
    socket: socket,
    select: select,
  };
})();
