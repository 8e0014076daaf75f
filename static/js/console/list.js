/* GoFly console: the sidebar's conversation tabs (Closed page by page) and visitor lists, their rows, counts and search. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var TAB_KEY = C.TAB_KEY;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var rows = C.rows;
  var conversations = C.conversations;
  var liveOf = C.liveOf;
  var crows = C.crows;
  var clearedAt = C.clearedAt;
  var title = C.title;
  var vname = C.vname;
  var visitorAvatar = C.visitorAvatar;
  var activityTime = C.activityTime;
  var totalUnread = C.totalUnread;
  var upsertVisitor = C.upsertVisitor;
  var isLive = C.isLive;
  var isMine = C.isMine;
  var timeOf = C.timeOf;
  var conversationActivity = C.conversationActivity;
  var currentConversation = C.currentConversation;
  var upsertConversation = C.upsertConversation;
  var waitNode = C.waitNode;
  var statusChip = C.statusChip;
  var agentName = C.agentName;
  var previewOf = C.previewOf;
  var refresh = C.refresh;
  var CLOSED_PAGE = 30;
  var CONVERSATION_TABS = { mine: true, queue: true, open: true, closed: true };

  // --- rows and counts -------------------------------------------------------------------------

  var listScheduled = false;
  function scheduleList() {
    if (listScheduled) return;
    listScheduled = true;
    requestAnimationFrame(function () {
      listScheduled = false;
      renderList();
    });
  }

  function matches(v) {
    // A server search (console-workspace.js) decides while it is on; the local filter meanwhile.
    if (state.searchHits) return !!state.searchHits[v.visitor_id] || (!!state.filter && localMatch(v));
    if (!state.filter) return true;
    return localMatch(v);
  }
  function localMatch(v) {
    var hay = (v.name + " " + (v.real_name || "") + " " + v.visitor_id + " " + (v.city || "") + " " + (v.ip || "")).toLowerCase();
    return hay.indexOf(state.filter) >= 0;
  }

  function listed(v) {
    if (!matches(v)) return false;
    if (state.tab === "online" && !state.searchHits) return v.online || v.unread > 0 || v.visitor_id === state.selected;
    return true;
  }

  var TAB_FILTERS = {
    mine: isMine,
    queue: function (c) {
      return c.status === "waiting";
    },
    open: isLive,
    closed: function (c) {
      return c.status === "closed";
    },
  };

  function tabConversations(tab) {
    var keep = TAB_FILTERS[tab];
    return Object.keys(conversations)
      .map(function (id) {
        return conversations[id];
      })
      .filter(function (c) {
        return keep(c);
      });
  }

  function renderCounts() {
    ["mine", "queue", "open"].forEach(function (tab) {
      dom.counts[tab].textContent = String(tabConversations(tab).length + state.unseen[tab]);
    });
    dom.counts.queue.classList.toggle("has-items", tabConversations("queue").length + state.unseen.queue > 0);
    dom.counts.closed.textContent = state.closedCount == null ? "–" : String(state.closedCount);
    var online = Object.keys(visitors).filter(function (vid) {
      return visitors[vid].online;
    }).length;
    dom.onlineCount.textContent = String(online);
  }

  var EMPTY_TEXTS = {
    mine: "No conversation is assigned to you. New ones come here; the queue holds those nobody has yet.",
    queue: "Nobody is waiting.",
    open: "No conversation is open.",
    closed: "No closed conversations.",
  };

  var latestIds = {}; // visitor_id -> id of their newest conversation held, while a list renders
  function renderList() {
    var nodes;
    if (CONVERSATION_TABS[state.tab]) {
      latestIds = {};
      Object.keys(conversations).forEach(function (id) {
        var c = conversations[id];
        if (!latestIds[c.visitor_id] || c.id > latestIds[c.visitor_id]) latestIds[c.visitor_id] = c.id;
      });
      var list = tabConversations(state.tab).filter(function (c) {
        return matches(visitors[c.visitor_id] || { name: "", visitor_id: c.visitor_id });
      });
      if (state.tab === "queue") {
        list.sort(function (a, b) {
          return timeOf(a.created_at) - timeOf(b.created_at) || a.id - b.id;
        });
      } else {
        list.sort(function (a, b) {
          return conversationActivity(b) - conversationActivity(a) || b.id - a.id;
        });
      }
      nodes = list.map(renderConversationRow);
      dom.listEmpty.textContent = state.filter ? t("No conversation matches.") : t(EMPTY_TEXTS[state.tab]);
      dom.listMore.hidden = !(state.tab === "closed" && state.closedMore);
      dom.listMore.disabled = state.closedLoading;
      dom.listMore.textContent = state.closedLoading ? t("Loading…") : t("Load more");
    } else {
      var ids = Object.keys(visitors).filter(function (vid) {
        return listed(visitors[vid]);
      });
      ids.sort(function (a, b) {
        var va = visitors[a], vb = visitors[b];
        if (state.tab === "online" && !!va.online !== !!vb.online) return va.online ? -1 : 1;
        return activityTime(vb) - activityTime(va);
      });
      nodes = ids.map(function (vid) {
        return renderRow(visitors[vid]);
      });
      dom.listEmpty.textContent = state.filter
        ? t("No visitor matches.")
        : state.tab === "online"
          ? t("No visitors online right now. New visitors will appear here.")
          : t("No visitors yet.");
      dom.listMore.hidden = true;
    }
    var frag = document.createDocumentFragment();
    nodes.forEach(function (node) {
      frag.appendChild(node);
    });
    dom.list.replaceChildren(frag);
    dom.listEmpty.hidden = nodes.length > 0;
    renderCounts();
    title.set(totalUnread());
  }

  function rowAvatar(v) {
    return el("span", { className: "avatar-wrap" }, [
      el("img", { className: "avatar", attrs: { src: visitorAvatar(v), alt: "", width: 36, height: 36 } }),
      el("span", {
        className: "presence" + (v.online ? " presence--on" : ""),
        attrs: { title: C.presenceText(v) },
      }),
    ]);
  }

  function unreadBadge(v) {
    return v.unread
      ? el("span", {
          className: "badge",
          text: v.unread > 99 ? "99+" : String(v.unread),
          attrs: { "aria-label": t("{n} unread", { n: v.unread }) },
        })
      : null;
  }

  /** A row of a conversation tab: the visitor, the conversation's state, its last message. */
  function renderConversationRow(c) {
    var v = visitors[c.visitor_id] || { visitor_id: c.visitor_id, name: c.visitor_id.slice(-6), unread: 0 };
    var row = crows[c.id];
    if (!row) {
      row = crows[c.id] = el("li", { className: "vrow crow", dataset: { conversationId: c.id, visitorId: c.visitor_id } });
    }
    var current = c.visitor_id === state.selected && (state.conv ? state.conv === c.id : (currentConversation() || {}).id === c.id);
    var typing = v.typing && v.typingUntil > Date.now();
    // The visitor's last message belongs to their newest conversation; an older one shows how it ended.
    var newest = latestIds[c.visitor_id];
    var preview = typing
      ? t("Typing: {text}", { text: v.typing })
      : !newest || newest === c.id
        ? previewOf(v.last_message, c.visitor_id)
        : t("Earlier conversation");
    var at = c.status === "closed" ? c.closed_at || c.last_activity_at : (v.last_message && liveOf[c.visitor_id] === c.id ? v.last_message.created_at : c.last_activity_at);
    var sig = [
      vname(v), v.online, v.avatar, v.unread, preview, typing, current, c.status, c.assignee ? c.assignee.id : "",
      c.assignee ? c.assignee.name : "", at, c.closed_by, c.channel,
    ].join("|");
    row.dataset.status = c.status;
    if (row._sig === sig) return row;
    row._sig = sig;
    row.className = "vrow crow crow--" + c.status + (current ? " is-active" : "") + (v.online ? "" : " is-offline") +
      (v.unread ? " has-unread" : "") + (isMine(c) ? " is-mine" : "");
    var state_ = [c.status === "waiting" ? waitNode(c, "chip chip--waiting crow__wait") : statusChip(c)];
    // A follower of the official account: replies go out through WeChat, within its 48-hour window.
    if (c.channel === "wechat") state_.unshift(el("span", { className: "chip chip--wechat", text: t("WeChat") }));
    if (c.status !== "waiting" && c.assignee) state_.push(el("span", { className: "crow__assignee", text: agentName(c.assignee) }));
    if (c.status === "closed" && c.closed_by === "visitor") state_.push(el("span", { className: "crow__by", text: t("ended by the visitor") }));
    if (c.status === "closed" && c.closed_by === "system") state_.push(el("span", { className: "crow__by", text: t("closed for inactivity") }));
    row.replaceChildren(
      el(
        "button",
        {
          className: "vrow__btn",
          attrs: { type: "button", "aria-current": current ? "true" : false },
          on: {
            click: function () {
              C.select(c.visitor_id, c.id);
            },
          },
        },
        [
          rowAvatar(v),
          el("span", { className: "vrow__main" }, [
            el("span", { className: "vrow__top" }, [
              el("span", { className: "vrow__name", text: vname(v) }),
              el("time", { className: "vrow__time", text: G.formatShort(at) }),
            ]),
            el("span", { className: "crow__state" }, state_),
            el("span", { className: "vrow__bottom" }, [
              el("span", { className: "vrow__preview" + (typing ? " is-typing" : ""), text: preview }),
              unreadBadge(v),
            ]),
          ]),
        ]
      )
    );
    return row;
  }

  function renderRow(v) {
    var row = rows[v.visitor_id];
    if (!row) {
      row = rows[v.visitor_id] = el("li", { className: "vrow", dataset: { visitorId: v.visitor_id } });
    }
    var typing = v.typing && v.typingUntil > Date.now();
    var last = v.last_message;
    var preview = typing ? t("Typing: {text}", { text: v.typing }) : previewOf(last, v.visitor_id);
    var live = liveOf[v.visitor_id] && conversations[liveOf[v.visitor_id]];
    var liveSig = live ? live.status + ":" + (live.assignee ? live.assignee.id : "") : "";
    var sig = [vname(v), v.online, v.unread, preview, typing, v.visitor_id === state.selected, activityTime(v), v.avatar, v.city, liveSig].join("|");
    if (row._sig === sig) return row;
    row._sig = sig;
    row.className = "vrow" + (v.visitor_id === state.selected ? " is-active" : "") + (v.online ? "" : " is-offline") +
      (v.unread ? " has-unread" : "");
    var tag = null;
    if (live) {
      tag =
        live.status === "waiting"
          ? waitNode(live, "chip chip--waiting")
          : el("span", { className: "chip chip--open", text: agentName(live.assignee) || t("Open") });
    }
    row.replaceChildren(
      el(
        "button",
        {
          className: "vrow__btn",
          attrs: { type: "button", "aria-current": v.visitor_id === state.selected ? "true" : false },
          on: {
            click: function () {
              C.select(v.visitor_id);
            },
          },
        },
        [
          rowAvatar(v),
          el("span", { className: "vrow__main" }, [
            el("span", { className: "vrow__top" }, [
              el("span", { className: "vrow__name", text: vname(v) }),
              v.city ? el("span", { className: "vrow__where", text: v.city }) : null,
              tag,
              el("time", { className: "vrow__time", text: G.formatShort(last ? last.created_at : v.updated_at) }),
            ]),
            el("span", { className: "vrow__bottom" }, [
              el("span", { className: "vrow__preview" + (typing ? " is-typing" : ""), text: preview }),
              unreadBadge(v),
            ]),
          ]),
        ]
      )
    );
    return row;
  }

  // --- the Closed tab, page by page -----------------------------------------------------------------

  /** The first page of closed conversations and the counts (more: the next page). */
  function loadClosed(more) {
    if (state.closedLoading) return;
    state.closedLoading = true;
    var asked = Date.now();
    scheduleList();
    var url = "/api/v1/agent/conversations?tab=closed&limit=" + CLOSED_PAGE + (more && state.closedCursor ? "&before=" + state.closedCursor : "");
    G.api("GET", url).then(function (res) {
      state.closedLoading = false;
      if (res.ok && res.data) {
        (res.data.conversations || []).forEach(function (c) {
          if (clearedAt[c.visitor_id] >= asked) return;
          upsertConversation(c);
          if (!state.closedCursor || c.id < state.closedCursor) state.closedCursor = c.id;
        });
        if (more || state.closedPages <= 1) state.closedMore = !!res.data.more;
        if (more || !state.closedPages) state.closedPages++;
        if (res.data.counts) state.closedCount = res.data.counts.closed;
      } else if (res.status === 401) {
        window.location.href = "/login?next=/console";
        return;
      }
      refresh();
    });
  }
  dom.listMore.addEventListener("click", function () {
    loadClosed(true);
  });

  // --- tabs and search -------------------------------------------------------------------------

  /** What the server counts beyond what this console holds (a bounded `ready` left some out). */
  function countUnseen(counts) {
    ["mine", "queue", "open"].forEach(function (tab) {
      state.unseen[tab] = counts ? Math.max(0, (counts[tab] || 0) - tabConversations(tab).length) : 0;
    });
  }

  /** Fetch a live tab's first page when `ready` left some of its conversations out. */
  function loadLiveTab(tab) {
    if (!state.unseen[tab]) return;
    var asked = Date.now();
    G.api("GET", "/api/v1/agent/conversations?tab=" + tab + "&limit=200").then(function (res) {
      if (!res.ok || !res.data) return;
      (res.data.conversations || []).forEach(function (c) {
        if (!(clearedAt[c.visitor_id] >= asked)) upsertConversation(c); // cleared since: stale
      });
      countUnseen(res.data.counts);
      refresh();
    });
  }

  function showTab(name) {
    state.tab = name;
    G.store.set(TAB_KEY, name);
    Array.prototype.forEach.call(dom.tabs, function (other) {
      var on = other.dataset.tab === name;
      other.setAttribute("aria-selected", String(on));
      other.classList.toggle("is-active", on);
    });
    if (state.tab === "recent" && !state.recentLoaded) loadRecent();
    if (state.unseen[name]) loadLiveTab(name);
    dom.list.scrollTop = 0;
    scheduleList();
  }
  Array.prototype.forEach.call(dom.tabs, function (tab) {
    tab.addEventListener("click", function () {
      showTab(tab.dataset.tab);
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

  Object.assign(C, {
    countUnseen: countUnseen,
    loadClosed: loadClosed,
    scheduleList: scheduleList,
    showTab: showTab,
  });
})(window.GoFlyConsole);
