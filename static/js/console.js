/* GoFly agent console (/console): the conversation tabs (Mine, Queue, All open, Closed) and the visitor
 * lists, one thread per visitor, the conversation's actions (take, transfer, close, reopen, clear), the
 * agent's own status and the team's, visitor details, sounds and notifications. */
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
  var TAB_KEY = "gofly.console.tab." + me.id;
  var CLOSED_PAGE = 30;
  var ACTION_TIMEOUT = 15000;
  var TABS = ["mine", "queue", "open", "closed", "online", "recent"];
  var CONVERSATION_TABS = { mine: true, queue: true, open: true, closed: true };
  var STATUS_ORDER = { online: 0, away: 1, offline: 2 };

  var $ = function (id) {
    return document.getElementById(id);
  };
  var dom = {
    workspace: $("workspace"),
    chatPanel: $("chat-panel"),
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
    listMore: $("list-more"),
    counts: { mine: $("count-mine"), queue: $("count-queue"), open: $("count-open"), closed: $("count-closed") },
    convbar: $("convbar"),
    convState: $("convbar-state"),
    actTake: $("act-take"),
    actTransfer: $("act-transfer"),
    actClose: $("act-close"),
    actReopen: $("act-reopen"),
    actClear: $("act-clear"),
    noteBanner: $("transfer-note-banner"),
    noteText: $("transfer-note-text"),
    toast: $("toast"),
    meToggle: $("me-toggle"),
    mePanel: $("me-panel"),
    myDot: $("my-status-dot"),
    myStatusText: $("my-status-text"),
    statusChoices: document.querySelectorAll(".status-choice"),
    teamList: $("team-list"),
    teamOnline: $("team-online"),
    confirm: $("confirm-dialog"),
    confirmTitle: $("confirm-title"),
    confirmText: $("confirm-text"),
    confirmOk: $("confirm-ok"),
    transfer: $("transfer-dialog"),
    transferForm: $("transfer-form"),
    transferSub: $("transfer-sub"),
    transferAgents: $("transfer-agents"),
    transferNote: $("transfer-note"),
    transferError: $("transfer-error"),
    transferSubmit: $("transfer-submit"),
    transferCancel: $("transfer-cancel"),
    settingsSection: $("settings-section"),
    settingsOpen: $("settings-open"),
    settings: $("settings-dialog"),
    settingsForm: $("settings-form"),
    settingsLimit: $("settings-limit"),
    settingsAutoClose: $("settings-autoclose"),
    settingsLanding: $("settings-landing"),
    settingsError: $("settings-error"),
    settingsSubmit: $("settings-submit"),
    settingsCancel: $("settings-cancel"),
  };

  var savedTab = G.store.get(TAB_KEY);
  var state = {
    selected: null,
    conv: null, // the conversation row the agent clicked, when the visitor has no live one to show instead
    tab: TABS.indexOf(savedTab) >= 0 ? savedTab : "online",
    filter: "",
    cursor: 0, // highest message id held across the enterprise: where a reconnect's sync starts
    readyOnce: false,
    syncing: false, // from a reconnect's `ready` until its last `history` page: threads may lack what summaries count
    recentLoaded: false,
    loadingOlder: false,
    busy: false, // an action of the open conversation awaits its answer
    settingStatus: false,
    closedCount: null, // from the server's counts; null until the first page of the Closed tab came
    closedMore: false,
    closedCursor: 0, // the oldest closed conversation a page brought: where the next page starts
    closedPages: 0,
    closedLoading: false,
    // Live conversations the server has and `ready` left out (it is bounded): per tab, the server's count
    // less what this console holds, until the tab is opened and fetched.
    unseen: { mine: 0, queue: 0, open: 0 },
  };
  var visitors = {}; // visitor_id -> summary (+ local fields)
  var threads = {}; // visitor_id -> Thread
  var rows = {}; // visitor_id -> <li>
  var conversations = {}; // conversation id -> conversation (as agents see it, without its visitor summary)
  var liveOf = {}; // visitor_id -> id of their waiting or open conversation
  var crows = {}; // conversation id -> <li>
  var roster = {}; // agent id -> agent status
  var transferNotes = {}; // conversation id -> {from, note}, for conversations handed to this agent
  var noteFetched = {};
  var clearedAt = {}; // visitor_id -> when their history was cleared: answers asked for before it are stale
  var drafts = {};
  var lastReadSent = {};
  var title = new G.TitleFlasher(document.title);

  // --- helpers ---------------------------------------------------------------------------------

  function threadFor(vid) {
    return threads[vid] || (threads[vid] = new G.Thread());
  }

  /** How the console names a visitor: the agents' remark name first (chat.workspace). */
  function vname(v) {
    return v ? v.real_name || v.name || v.visitor_id : "";
  }
  /** The thread record's sender for an outbox item: an internal note, or a reply. */
  function senderOf(item) {
    return item && item.note ? "note" : "agent";
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

  // "Browser · OS" as the server parsed the user agent at login (chat.visitor_info).
  function describeDevice(v) {
    return [v.browser, v.os].filter(Boolean).join(" · ");
  }

  var DEVICE_KINDS = { desktop: "Desktop", mobile: "Mobile", tablet: "Tablet", bot: "Bot" };
  function deviceKind(v) {
    return DEVICE_KINDS[v.device] ? t(DEVICE_KINDS[v.device]) : "";
  }

  // --- conversations -----------------------------------------------------------------------------

  function can(permission) {
    return (me.permissions || []).indexOf(permission) >= 0;
  }
  function isLive(c) {
    return !!c && (c.status === "waiting" || c.status === "open");
  }
  function isMine(c) {
    return !!c && c.status === "open" && !!c.assignee && c.assignee.id === me.id;
  }
  /** Messages of these ring and notify; the rest update their rows silently. */
  function alerting(c) {
    return !!c && (c.status === "waiting" || isMine(c));
  }
  function timeOf(value) {
    var d = G.toDate(value);
    return d ? d.getTime() : 0;
  }
  // Every change moves one of these forward (take, assign, transfer, reopen: assigned_at; close: closed_at),
  // so an answer that arrives after a later change's event cannot bring the older state back.
  function changedAt(c) {
    return Math.max(timeOf(c.created_at), timeOf(c.assigned_at), timeOf(c.closed_at));
  }
  function conversationActivity(c) {
    var at = Math.max(timeOf(c.last_activity_at), timeOf(c.closed_at));
    var v = visitors[c.visitor_id];
    if (v && v.last_message && liveOf[c.visitor_id] === c.id) at = Math.max(at, timeOf(v.last_message.created_at));
    return at;
  }
  function latestConversation(vid) {
    var best = null;
    Object.keys(conversations).forEach(function (id) {
      var c = conversations[id];
      if (c.visitor_id === vid && (!best || c.id > best.id)) best = c;
    });
    return best;
  }
  /** The conversation the selected visitor's header is about: their live one, else the row clicked, else their latest. */
  function currentConversation() {
    var vid = state.selected;
    if (!vid) return null;
    if (liveOf[vid] && conversations[liveOf[vid]]) return conversations[liveOf[vid]];
    var clicked = state.conv && conversations[state.conv];
    if (clicked && clicked.visitor_id === vid) return clicked;
    return latestConversation(vid);
  }

  function ensureVisitor(vid) {
    var v = visitors[vid];
    if (!v) {
      v = visitors[vid] = { visitor_id: vid, name: vid.slice(-6), online: false, unread: 0, typing: "", countedUpTo: 0 };
      fetchSummary(vid);
    }
    return v;
  }

  /**
   * Keep the newer of what we hold and `payload`; returns the conversation held. `change` names the
   * event that brought it: a conversation first seen closing counts as newly closed.
   */
  function upsertConversation(payload, change) {
    if (!payload || payload.id == null) return null;
    var summary = payload.visitor;
    var c = Object.assign({}, payload);
    delete c.visitor;
    delete c.transfer_note;
    if (summary) {
      var known = visitors[summary.visitor_id];
      var v = upsertVisitor(summary);
      if (known && !("online" in summary)) v.online = known.online;
    } else {
      ensureVisitor(c.visitor_id);
    }
    if (typeof payload.transfer_note === "string" && payload.transfer_note && isMine(payload)) {
      transferNotes[c.id] = Object.assign({}, transferNotes[c.id], { note: payload.transfer_note });
    }
    var held = conversations[c.id];
    if (held && changedAt(held) > changedAt(c)) return held;
    var wasClosed = held ? held.status === "closed" : change === "reopened";
    var isClosed = c.status === "closed" && (!!held || change === "closed");
    if (state.closedCount != null && wasClosed !== isClosed && (held || change)) {
      state.closedCount = Math.max(0, state.closedCount + (isClosed ? 1 : -1));
    }
    conversations[c.id] = c;
    if (isLive(c)) liveOf[c.visitor_id] = c.id;
    else if (liveOf[c.visitor_id] === c.id) delete liveOf[c.visitor_id];
    return c;
  }

  function forgetConversation(id) {
    var c = conversations[id];
    if (!c) return;
    delete conversations[id];
    delete crows[id];
    if (liveOf[c.visitor_id] === c.id) delete liveOf[c.visitor_id];
    if (state.conv === c.id) state.conv = null;
  }

  /** How many open conversations each agent has, counted from the live list the console holds. */
  function loads() {
    var n = {};
    Object.keys(conversations).forEach(function (id) {
      var c = conversations[id];
      if (c.status === "open" && c.assignee) n[c.assignee.id] = (n[c.assignee.id] || 0) + 1;
    });
    return n;
  }

  function pad2(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function formatWait(since) {
    var s = Math.max(0, Math.floor((Date.now() - timeOf(since)) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + ":" + pad2(m) + ":" + pad2(s % 60) : m + ":" + pad2(s % 60);
  }
  function waitText(since) {
    return t("Waiting {time}", { time: formatWait(since) });
  }
  /** A waiting time that the ticker keeps counting. */
  function waitNode(c, className) {
    return el("span", { className: className, text: waitText(c.created_at), dataset: { waitSince: c.created_at } });
  }
  function tickWaits() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-wait-since]"), function (node) {
      node.textContent = waitText(node.dataset.waitSince);
    });
  }

  var STATUS_LABELS = { waiting: "Waiting", open: "Open", closed: "Closed" };
  function statusChip(c) {
    return el("span", { className: "chip chip--" + c.status, text: t(STATUS_LABELS[c.status] || c.status) });
  }
  function agentName(agent) {
    if (!agent) return "";
    return agent.id === me.id ? t("You") : agent.name;
  }

  /** One line for a row: the visitor's last message, or their last timeline line. */
  function previewOf(last, vid) {
    if (!last) return t("No messages yet");
    if (last.kind === "event") return G.eventText(last.content, last.meta || guessedMeta(vid));
    // Left while nobody was online (services.offline_message_leave): say so, it waits for a call back.
    if (last.meta && last.meta.left_message) return t("[Left a message] {text}", { text: G.previewText(last.content) });
    if (last.sender === "note") return t("[Note] {text}", { text: G.previewText(last.content) });
    return (last.sender === "agent" ? "↩ " : "") + G.previewText(last.content);
  }
  // A summary's last message carries no `meta`; its visitor's newest conversation names who served it.
  function guessedMeta(vid) {
    var c = vid && (conversations[liveOf[vid]] || latestConversation(vid));
    if (!c || !c.assignee) return {};
    return { agent: c.status === "closed" ? null : c.assignee, to: c.assignee, by: c.closed_by };
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
        attrs: { title: v.online ? t("Online") : t("Offline") },
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
      c.assignee ? c.assignee.name : "", at, c.closed_by,
    ].join("|");
    row.dataset.status = c.status;
    if (row._sig === sig) return row;
    row._sig = sig;
    row.className = "vrow crow crow--" + c.status + (current ? " is-active" : "") + (v.online ? "" : " is-offline") +
      (v.unread ? " has-unread" : "") + (isMine(c) ? " is-mine" : "");
    var state_ = [c.status === "waiting" ? waitNode(c, "chip chip--waiting crow__wait") : statusChip(c)];
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
              select(c.visitor_id, c.id);
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
              select(v.visitor_id);
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

  // --- conversation ----------------------------------------------------------------------------

  var loadMoreButton = el("button", {
    className: "load-more",
    text: t("Load earlier messages"),
    attrs: { type: "button" },
    on: { click: loadOlder },
  });

  var view = new G.ThreadView(dom.messages, {
    self: "agent",
    isOut: function (rec) {
      return rec.sender === "agent" || rec.sender === "note";
    },
    avatar: function (rec) {
      return rec.sender === "visitor" ? visitorAvatar(visitors[state.selected]) : agentAvatar(rec.agent);
    },
    name: function (rec) {
      if (rec.sender === "agent" && !rec.agent && rec.meta && rec.meta.auto) return t("Automatic reply"); // replies
      if (rec.sender === "note") {
        return t("Internal note · {name}", { name: rec.agent ? (rec.agent.id === me.id ? t("You") : rec.agent.name) : t("Agent") });
      }
      if (rec.sender === "agent") return rec.agent ? (rec.agent.id === me.id ? t("You") : rec.agent.name) : t("Agent");
      return vname(visitors[state.selected]);
    },
    onRetry: function (rec) {
      uploader.retry(rec.client_id);
    },
    onDiscard: function (rec) {
      uploader.discard(rec.client_id);
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
    dom.chatName.textContent = vname(v);
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
    renderConversationBar();
  }

  /** Under the header: the conversation's state and what this agent may do with it now. */
  function renderConversationBar() {
    var vid = state.selected;
    if (!vid) return;
    var c = currentConversation();
    var bits = [];
    if (c) {
      bits.push(c.status === "waiting" ? waitNode(c, "chip chip--waiting convbar__wait") : statusChip(c));
      if (c.status === "waiting") {
        bits.push(el("span", { className: "convbar__text", text: t("In the queue") }));
      } else if (c.status === "open") {
        bits.push(el("span", { className: "convbar__text", text: c.assignee ? t("Served by {name}", { name: agentName(c.assignee) }) : "" }));
      } else {
        var closedText = c.closed_by === "visitor" ? t("Ended by the visitor") : c.closed_by === "system" ? t("Closed after a period of inactivity") : t("Closed");
        bits.push(el("span", { className: "convbar__text", text: closedText + " · " + G.formatDateTime(c.closed_at) }));
      }
    } else {
      bits.push(el("span", { className: "convbar__text muted", text: t("No conversation yet: your message starts one.") }));
    }
    dom.convState.replaceChildren.apply(dom.convState, bits);
    var live = isLive(c);
    dom.actTake.hidden = !(c && c.status === "waiting" && can("take"));
    dom.actTransfer.hidden = !(live && can("transfer"));
    dom.actClose.hidden = !(live && can("close"));
    dom.actReopen.hidden = !(c && c.status === "closed" && !liveOf[vid] && can("close"));
    dom.actClear.hidden = !can("clear_history");
    [dom.actTake, dom.actTransfer, dom.actClose, dom.actReopen, dom.actClear].forEach(function (button) {
      button.disabled = state.busy;
    });
    dom.convbar.hidden = false;
    dom.convbar.dataset.status = c ? c.status : "";
    // A colleague's note travels with a conversation handed to this agent, while it is theirs.
    var note = c && isMine(c) ? transferNotes[c.id] : null;
    dom.noteBanner.hidden = !(note && note.note);
    if (note && note.note) {
      var from = note.from || transferredBy(c);
      dom.noteText.textContent = from
        ? t("Note from {name}: {note}", { name: from.name, note: note.note })
        : t("Transfer note: {note}", { note: note.note });
    }
    if (c && isMine(c) && !transferNotes[c.id] && !noteFetched[c.id]) fetchConversation(c.id);
  }

  /** Who handed `c` to this agent, from its latest transfer line in the thread (a note fetched over HTTP names no one). */
  function transferredBy(c) {
    var thread = threads[c.visitor_id];
    if (!thread) return null;
    for (var i = thread.records.length - 1; i >= 0; i--) {
      var rec = thread.records[i];
      var meta = rec.meta || {};
      if (rec.kind === "event" && rec.content === "transferred" && meta.conversation && meta.conversation.id === c.id) {
        return meta.to && meta.to.id === me.id ? meta.by || null : null;
      }
    }
    return null;
  }

  var conversationFetches = {};
  /** The conversation as the server has it now (with its transfer note for its assignee); null if gone. */
  function fetchConversation(id) {
    noteFetched[id] = true;
    if (conversationFetches[id]) return conversationFetches[id];
    var p = (conversationFetches[id] = G.api("GET", "/api/v1/agent/conversations/" + id).then(function (res) {
      delete conversationFetches[id];
      if (res.status === 404) {
        forgetConversation(id);
        refresh();
        return null;
      }
      if (!res.ok || !res.data) return conversations[id] || null;
      var c = upsertConversation(res.data);
      refresh();
      return c;
    }));
    return p;
  }

  /** Re-render what depends on the conversations: the list and the open conversation's header. */
  function refresh() {
    scheduleList();
    renderTeam();
    if (state.selected) renderConversationBar();
    if (dom.transfer.open) renderTransferAgents();
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
      infoRow(t("Status"), v.online ? t("Online") : t("Offline")),
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
                select(v.visitor_id, c.id);
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

  function select(vid, conversationId) {
    if (!visitors[vid]) return;
    if (state.selected && state.selected !== vid) drafts[state.selected] = dom.input.value;
    var changed = state.selected !== vid;
    state.selected = vid;
    state.conv = conversationId || null;
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
        if (state.selected === vid) {
          view.render({ stick: true });
          renderConversationBar();
        }
        markRead(vid);
      });
    } else {
      markRead(vid);
    }
    // Details may have changed since the list was built (a new visit, a new city).
    var askedAt = Date.now();
    G.api("GET", "/api/v1/agent/visitors/" + encodeURIComponent(vid)).then(function (res) {
      if (res.ok && res.data && visitors[vid]) {
        var v = visitors[vid];
        ["name", "real_name", "tags", "avatar", "city", "country", "region", "isp", "os", "browser", "device", "device_model", "search_words", "ip", "referrer", "landing_page", "user_agent", "extra", "visits", "created_at", "updated_at"].forEach(
          function (k) {
            // Not over what an event or an edit told this console after the question was asked.
            if (v.changedAt && v.changedAt[k] >= askedAt) return;
            if (k in res.data) v[k] = res.data[k];
          }
        );
        if (res.data.pages) v.pages = res.data.pages;
        if ("blocked" in res.data) v.blocked = res.data.blocked; // console-blacklist.js shows it
        // Their earlier conversations too: a visitor without a live one can be reopened from the header.
        (res.data.conversations || []).forEach(function (c) {
          upsertConversation(c);
        });
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
    if ((msg.sender === "agent" || msg.sender === "note") && msg.client_id) outbox.resolve(msg.client_id);
    var thread = threadFor(vid);
    var result = thread.merge(msg);
    // The visitor has seen it (read_at of an agent message), or a `visitor.read` said so before it came.
    if (msg.sender === "agent" && msg.id != null) {
      if (msg.read_at) thread.seenUpTo = Math.max(thread.seenUpTo || 0, msg.id);
      if (msg.id <= (thread.seenUpTo || 0)) result.rec.state = "read";
    }
    var v = ensureVisitor(vid);
    if (!v.last_message || msg.id >= v.last_message.id) {
      v.last_message = {
        id: msg.id, content: msg.content, sender: msg.sender, kind: msg.kind, created_at: msg.created_at, meta: msg.meta,
        conversation_id: msg.conversation_id,
      };
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

  /** The conversation a message belongs to, as held now (the visitor's live one if the message names none). */
  function conversationOf(msg) {
    return (msg.conversation_id && conversations[msg.conversation_id]) || conversations[liveOf[msg.visitor_id]] || null;
  }

  function onNewVisitorMessage(msg, live) {
    var vid = msg.visitor_id;
    if (inView(vid)) {
      markRead(vid);
      return;
    }
    if (!live) return;
    var c = conversationOf(msg);
    if (c) {
      if (alerting(c)) alertMessage(msg);
    } else if (msg.conversation_id) {
      // Its conversation's event has not come (or was lost): ask, then decide.
      fetchConversation(msg.conversation_id).then(function (fetched) {
        if (alerting(fetched) && !inView(vid)) alertMessage(msg);
      });
    }
  }

  function alertMessage(msg) {
    var v = visitors[msg.visitor_id];
    G.playSound(assets.sound_message);
    title.set(totalUnread(), true);
    desktopNotify(
      t("{name} says", { name: v ? vname(v) : t("Visitor") }),
      G.previewText(msg.content).slice(0, 140),
      msg.visitor_id,
      "msg-" + msg.visitor_id
    );
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
      var extra = item.note ? { visitor_id: item.visitor_id, note: true } : { visitor_id: item.visitor_id };
      return socket.send("message.send", outbox.frameData(item, extra));
    },
    onChange: function (item, itemState) {
      var rec = threadFor(item.visitor_id).findClient(senderOf(item), item.client_id);
      if (!rec) return;
      rec.state = itemState === "failed" ? "failed" : "sending";
      rec.error = item.error;
      if (state.selected === item.visitor_id) view.render();
    },
  });
  /** An outbox item's record in its visitor's thread, in the state the item is in. */
  function showItem(item, thread) {
    var shown = item.state === "failed" ? "failed" : item.state === "uploading" ? "uploading" : "sending";
    var rec = (thread || threadFor(item.visitor_id)).merge(Object.assign(outbox.record(item, senderOf(item)), { agent: me }), shown).rec;
    rec.error = item.error;
    rec.fatal = !!item.fatal;
    return rec;
  }
  outbox.items.forEach(function (item) {
    if (item.visitor_id) showItem(item);
  });

  var uploader = new G.Uploader({
    outbox: outbox,
    uploader: uploader,
    sendFiles: sendFiles,
    url: function (item) {
      return "/api/v1/agent/visitors/" + encodeURIComponent(item.visitor_id) + "/uploads";
    },
    headers: function () {
      return { "X-CSRFToken": G.cookie("csrftoken") || "" };
    },
    limits: function () {
      return cfg.uploads;
    },
    onChange: function (item) {
      if (!outbox.get(item.client_id) || !item.visitor_id) return;
      showItem(item);
      if (state.selected === item.visitor_id) view.render();
    },
    onProgress: function (item) {
      var rec = threadFor(item.visitor_id).findClient("agent", item.client_id);
      if (!rec) return;
      rec.progress = item.progress;
      if (state.selected === item.visitor_id) view.progress(rec);
    },
  });

  function send(text) {
    var vid = state.selected;
    if (!vid) return false;
    showItem(outbox.add(text, state.noteMode ? { visitor_id: vid, note: true } : { visitor_id: vid }));
    drafts[vid] = "";
    view.render({ stick: true });
    return true;
  }

  function sendFiles(files) {
    var vid = state.selected;
    if (!vid) return;
    files.forEach(function (file) {
      showItem(uploader.add(file, { visitor_id: vid }));
    });
    view.render({ stick: true });
  }

  // --- conversation actions --------------------------------------------------------------------

  var pendingActions = {}; // ref -> {resolve, timer}

  /**
   * An action frame over the socket, answered by `ok` or `error` with its ref; over HTTP while the
   * socket is down. Resolves {ok, data} or {ok: false, code, message}.
   */
  function act(type, data, url, body) {
    return new Promise(function (resolve) {
      var ref = "act-" + G.uuid();
      if (socket.send(type, Object.assign({ ref: ref }, data))) {
        pendingActions[ref] = {
          resolve: resolve,
          timer: setTimeout(function () {
            finishAction(ref, { ok: false, code: "timeout", message: t("The server did not answer in time; the list shows what happened.") });
          }, ACTION_TIMEOUT),
        };
        return;
      }
      G.api("POST", url, body || {}).then(function (res) {
        if (res.ok) {
          resolve({ ok: true, data: type === "status.set" ? { agent: res.data } : { conversation: res.data } });
          return;
        }
        var err = (res.data && res.data.error) || {};
        resolve({ ok: false, code: err.code || (res.status ? "http_" + res.status : "network"), message: G.errorText(res) });
      });
    });
  }

  function finishAction(ref, result) {
    var pending = ref && pendingActions[ref];
    if (!pending) return false;
    clearTimeout(pending.timer);
    delete pendingActions[ref];
    pending.resolve(result);
    return true;
  }

  /** What a refusal means, in the reader's language (socket errors come in the server's). */
  function refusalText(result, target) {
    var who = target ? target.name : "";
    switch (result.code) {
      case "already_taken":
        return t("Another agent took this conversation a moment ago.");
      case "closed":
        return t("This conversation is closed.");
      case "not_closed":
        return t("This conversation is not closed.");
      case "conversation_open":
        return t("The visitor has another conversation open; continue that one.");
      case "over_limit":
        return who
          ? t("{name} already has as many open conversations as their limit allows.", { name: who })
          : t("You already have as many open conversations as your limit allows.");
      case "agent_offline":
        return t("{name} is offline.", { name: who || t("This colleague") });
      case "same_agent":
        return t("The conversation is already theirs.");
      case "forbidden":
        return t("You are not allowed to do this.");
      case "not_found":
        return t("This conversation no longer exists.");
      default:
        return result.message || t("Something went wrong.");
    }
  }

  /** Run a conversation action for the open conversation; the header's buttons wait for its answer. */
  function conversationAction(kind, c, extra, target) {
    var data = Object.assign({ conversation_id: c.id }, extra || {});
    state.busy = true;
    renderConversationBar();
    return act("conversation." + kind, data, "/api/v1/agent/conversations/" + c.id + "/" + kind, extra || {}).then(function (result) {
      state.busy = false;
      if (result.ok && result.data.conversation) upsertConversation(result.data.conversation);
      if (!result.ok && (result.code === "not_found" || result.code === "already_taken" || result.code === "closed")) {
        fetchConversation(c.id);
      }
      refresh();
      return result.ok ? result : Object.assign(result, { text: refusalText(result, target) });
    });
  }

  function takeCurrent() {
    var c = currentConversation();
    if (!c) return;
    conversationAction("take", c).then(function (result) {
      if (!result.ok) showToast(result.text, "error");
      else if (window.matchMedia("(min-width: 761px)").matches) dom.input.focus();
    });
  }

  function closeCurrent() {
    var c = currentConversation();
    var v = c && visitors[c.visitor_id];
    if (!c) return;
    confirmDialog({
      title: t("Close this conversation?"),
      text: t("{name} can write again at any time; that starts a new conversation.", { name: v ? vname(v) : t("The visitor") }),
      confirm: t("Close"),
    }).then(function (yes) {
      if (!yes) return;
      conversationAction("close", c).then(function (result) {
        if (!result.ok) showToast(result.text, "error");
      });
    });
  }

  function reopenCurrent() {
    var c = currentConversation();
    if (!c) return;
    conversationAction("reopen", c).then(function (result) {
      if (!result.ok) showToast(result.text, "error");
    });
  }

  function clearCurrent() {
    var vid = state.selected;
    var v = visitors[vid];
    if (!v) return;
    confirmDialog({
      title: t("Clear this visitor's history?"),
      text: t("Every message and conversation of {name} is deleted, for every agent and for the visitor. This cannot be undone.", { name: vname(v) }),
      confirm: t("Clear history"),
      danger: true,
    }).then(function (yes) {
      if (!yes) return;
      state.busy = true;
      renderConversationBar();
      G.api("POST", "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/clear", {}).then(function (res) {
        state.busy = false;
        if (res.ok) clearVisitor(vid); // the socket's `visitor.cleared` may come later, or not while it is down
        else {
          var err = (res.data && res.data.error) || {};
          showToast(refusalText({ code: err.code, message: G.errorText(res) }), "error");
        }
        if (state.selected) renderConversationBar();
      });
    });
  }

  /** The visitor's history is gone: drop their thread and conversations everywhere. */
  function clearVisitor(vid) {
    var v = visitors[vid];
    clearedAt[vid] = Date.now();
    Object.keys(conversations).forEach(function (id) {
      if (conversations[id].visitor_id === vid) forgetConversation(conversations[id].id);
    });
    var thread = (threads[vid] = new G.Thread());
    thread.loaded = true;
    // What this agent is still sending to them stays: it starts their history afresh.
    outbox.items.forEach(function (item) {
      if (item.visitor_id === vid) showItem(item, thread);
    });
    if (v) {
      v.last_message = null;
      v.unread = 0;
    }
    if (state.selected === vid) {
      view.show(thread);
      renderChatHeader();
    }
    loadClosed(false);
    refresh();
  }

  // --- transfer --------------------------------------------------------------------------------

  var transferring = null; // {conversation, chosen agent id}

  function openTransfer() {
    var c = currentConversation();
    if (!isLive(c)) return;
    var v = visitors[c.visitor_id];
    transferring = { conversation: c, to: null };
    dom.transferSub.textContent = t("Hand {name} to a colleague who is online. Your note goes to them alone.", { name: v ? vname(v) : t("the visitor") });
    dom.transferNote.value = "";
    dom.transferError.hidden = true;
    renderTransferAgents();
    dom.transfer.showModal();
  }

  function renderTransferAgents() {
    if (!transferring) return;
    var c = conversations[transferring.conversation.id] || transferring.conversation;
    var counts = loads();
    var list = Object.keys(roster)
      .map(function (id) {
        return roster[id];
      })
      .filter(function (a) {
        return !c.assignee || a.id !== c.assignee.id;
      });
    list.sort(function (a, b) {
      return (STATUS_ORDER[a.status] - STATUS_ORDER[b.status]) || (counts[a.id] || 0) - (counts[b.id] || 0) || String(a.name).localeCompare(String(b.name));
    });
    if (transferring.to && !list.some(function (a) { return a.id === transferring.to && a.status !== "offline"; })) transferring.to = null;
    var nodes = list.map(function (a) {
      var off = a.status === "offline";
      var load = counts[a.id] || 0;
      var full = a.limit > 0 && load >= a.limit;
      var input = el("input", {
        attrs: { type: "radio", name: "transfer-to", value: a.id, disabled: off, checked: transferring.to === a.id },
        on: {
          change: function () {
            transferring.to = a.id;
            dom.transferSubmit.disabled = false;
            dom.transferError.hidden = true;
          },
        },
      });
      return el("label", { className: "agent-option" + (off ? " is-disabled" : "") + (full ? " is-full" : ""), dataset: { agentId: a.id, status: a.status } }, [
        input,
        el("span", { className: "avatar-wrap" }, [
          el("img", { className: "avatar avatar--sm", attrs: { src: agentAvatar(a), alt: "", width: 28, height: 28 } }),
          el("span", { className: "status-dot status-dot--ring", dataset: { status: a.status } }),
        ]),
        el("span", { className: "agent-option__main" }, [
          el("span", { className: "agent-option__name", text: a.id === me.id ? t("{name} (you)", { name: a.name }) : a.name }),
          el("span", { className: "agent-option__sub", text: statusLabel(a.status) + (off ? "" : " · " + loadText(load, a.limit)) }),
        ]),
        full && !off ? el("span", { className: "chip chip--full", text: t("Full") }) : null,
      ]);
    });
    if (!nodes.length) nodes.push(el("p", { className: "muted agent-pick__empty", text: t("No colleague to transfer to.") }));
    dom.transferAgents.replaceChildren.apply(dom.transferAgents, nodes);
    dom.transferSubmit.disabled = !transferring.to || state.busy;
  }

  dom.transferForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!transferring || !transferring.to) return;
    var c = conversations[transferring.conversation.id] || transferring.conversation;
    var target = roster[transferring.to];
    var note = dom.transferNote.value.trim();
    dom.transferSubmit.disabled = true;
    dom.transferError.hidden = true;
    conversationAction("transfer", c, { to_agent_id: transferring.to, note: note }, target).then(function (result) {
      if (result.ok) {
        transferring = null;
        dom.transfer.close();
        showToast(t("Transferred to {name}.", { name: target ? target.name : t("a colleague") }));
        return;
      }
      dom.transferError.textContent = result.text;
      dom.transferError.hidden = false;
      renderTransferAgents();
    });
  });
  dom.transferCancel.addEventListener("click", function () {
    dom.transfer.close();
  });
  dom.transfer.addEventListener("close", function () {
    transferring = null;
  });

  // --- dialogs and toasts ------------------------------------------------------------------------

  /** opts: title, text, confirm (the button's label), danger. Resolves true when confirmed. */
  function confirmDialog(opts) {
    return new Promise(function (resolve) {
      dom.confirmTitle.textContent = opts.title;
      dom.confirmText.textContent = opts.text || "";
      dom.confirmOk.textContent = opts.confirm || t("OK");
      dom.confirmOk.className = "btn " + (opts.danger ? "btn--danger" : "btn--primary");
      dom.confirm.returnValue = "";
      dom.confirm.addEventListener(
        "close",
        function () {
          resolve(dom.confirm.returnValue === "ok");
        },
        { once: true }
      );
      dom.confirm.showModal();
      dom.confirmOk.focus();
    });
  }

  var toastTimer = null;
  function showToast(text, kind) {
    dom.toast.textContent = text;
    dom.toast.className = "toast" + (kind === "error" ? " toast--error" : "");
    dom.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      dom.toast.hidden = true;
    }, kind === "error" ? 8000 : 5000);
  }
  dom.toast.addEventListener("click", function () {
    dom.toast.hidden = true;
  });

  // --- the agent's status and the team -------------------------------------------------------------

  var STATUS_TEXTS = { online: "Online", away: "Away", offline: "Offline" };
  function statusLabel(status) {
    return t(STATUS_TEXTS[status] || status);
  }
  function loadText(load, limit) {
    return limit > 0 ? t("{load} of {limit} open", { load: load, limit: limit }) : t("{load} open", { load: load });
  }

  function renderTeam() {
    var mine = roster[me.id];
    var chosen = mine ? mine.chosen : me.status || "";
    dom.meToggle.dataset.status = chosen;
    dom.myDot.dataset.status = chosen;
    dom.myStatusText.textContent = chosen ? statusLabel(chosen) : "";
    Array.prototype.forEach.call(dom.statusChoices, function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.status === chosen));
      button.disabled = state.settingStatus;
    });
    var counts = loads();
    var agents = Object.keys(roster).map(function (id) {
      return roster[id];
    });
    agents.sort(function (a, b) {
      return (STATUS_ORDER[a.status] - STATUS_ORDER[b.status]) || (counts[a.id] || 0) - (counts[b.id] || 0) || String(a.name).localeCompare(String(b.name));
    });
    var canLimits = can("manage_agents");
    if (limitEdit && (!canLimits || !roster[limitEdit.id])) limitEdit = null;
    var focused = limitEdit && limitEdit.form.contains(document.activeElement) ? document.activeElement : null;
    dom.teamList.replaceChildren.apply(
      dom.teamList,
      agents.map(function (a) {
        return el("li", { className: "team__item", dataset: { agentId: a.id, status: a.status } }, [
          el("span", { className: "avatar-wrap" }, [
            el("img", { className: "avatar avatar--sm", attrs: { src: agentAvatar(a), alt: "", width: 28, height: 28 } }),
            el("span", { className: "status-dot status-dot--ring", dataset: { status: a.status }, attrs: { title: statusLabel(a.status) } }),
          ]),
          el("span", { className: "team__main" }, [
            el("span", { className: "team__name", text: a.id === me.id ? t("{name} (you)", { name: a.name }) : a.name }),
            el("span", { className: "team__status", text: statusLabel(a.status) }),
          ]),
          el("span", { className: "team__load", text: loadText(counts[a.id] || 0, a.limit), attrs: { title: t("Open conversations and the limit routing keeps to") } }),
          canLimits ? limitButton(a) : null,
          limitEdit && limitEdit.id === a.id ? limitEdit.form : null,
        ]);
      })
    );
    if (focused && limitEdit && limitEdit.form.isConnected) focused.focus();
    dom.settingsSection.hidden = !can("manage_settings");
    var here = agents.filter(function (a) {
      return a.status !== "offline";
    }).length;
    dom.teamOnline.textContent = agents.length ? t("{n} of {total} here", { n: here, total: agents.length }) : "";
  }

  // --- limits and routing settings (permissions manage_agents, manage_settings) ----------------------

  /** The text of an HTTP refusal: the server's message, its field messages joined for `invalid`. */
  function apiErrorText(res, labels) {
    var err = res && res.data && res.data.error;
    if (err && err.message && typeof err.message === "object") {
      return Object.keys(err.message)
        .map(function (field) {
          var msgs = [].concat(err.message[field]).join(" ");
          return labels && labels[field] ? labels[field] + ": " + msgs : msgs;
        })
        .join(" ");
    }
    return G.errorText(res);
  }

  /** A whole number from 0 to max typed in `input`; "" when empty, null when it is not one. */
  function wholeNumber(input, max) {
    var raw = input.value.trim();
    if (!raw) return "";
    if (!/^\d+$/.test(raw)) return null;
    var n = parseInt(raw, 10);
    return n <= max ? n : null;
  }

  var LIMIT_MAX = 1000;
  var AUTO_CLOSE_MAX = 60 * 24 * 30;
  var limitEdit = null; // {id, form, input, error, save}: the colleague whose limit is being edited

  function limitButton(a) {
    var label = t("Change the limit of {name}", { name: a.name });
    return el(
      "button",
      {
        className: "icon-btn team__edit",
        attrs: { type: "button", title: label, "aria-label": label, "aria-expanded": String(!!(limitEdit && limitEdit.id === a.id)) },
        on: {
          click: function () {
            if (limitEdit && limitEdit.id === a.id) limitEdit = null;
            else startLimitEdit(a);
            renderTeam();
            if (limitEdit) limitEdit.input.focus();
          },
        },
      },
      [el("span", { text: "✎", attrs: { "aria-hidden": "true" } })]
    );
  }

  function startLimitEdit(a) {
    var id = a.id;
    var input = el("input", {
      className: "team__limit-input",
      attrs: { type: "number", min: 0, max: LIMIT_MAX, step: 1, inputmode: "numeric", value: a.limit, placeholder: t("Enterprise default"), "aria-label": t("Limit of {name}", { name: a.name }) },
    });
    var error = el("p", { className: "team__limit-error", attrs: { role: "alert", hidden: true } });
    var save = el("button", { className: "btn btn--primary btn--sm", text: t("Save"), attrs: { type: "submit" } });
    var cancel = el("button", {
      className: "btn btn--sm",
      text: t("Cancel"),
      attrs: { type: "button" },
      on: {
        click: function () {
          limitEdit = null;
          renderTeam();
        },
      },
    });
    var form = el(
      "form",
      {
        className: "team__limit",
        on: {
          submit: function (e) {
            e.preventDefault();
            saveLimit();
          },
          keydown: function (e) {
            if (e.key === "Escape") {
              e.stopPropagation();
              limitEdit = null;
              renderTeam();
            }
          },
        },
      },
      [el("div", { className: "team__limit-row" }, [input, save, cancel]), el("small", { className: "team__limit-hint", text: t("Empty: the enterprise's limit. 0: no limit.") }), error]
    );
    limitEdit = { id: id, form: form, input: input, error: error, save: save };
  }

  function saveLimit() {
    var edit = limitEdit;
    if (!edit || edit.save.disabled) return;
    var value = wholeNumber(edit.input, LIMIT_MAX);
    if (value === null) {
      edit.error.textContent = t("Enter a whole number from {min} to {max}.", { min: 0, max: LIMIT_MAX });
      edit.error.hidden = false;
      return;
    }
    edit.save.disabled = true;
    edit.error.hidden = true;
    G.api("PATCH", "/api/v1/agent/agents/" + edit.id, { max_conversations: value === "" ? null : value }).then(function (res) {
      edit.save.disabled = false;
      if (res.ok && res.data && res.data.id) {
        roster[res.data.id] = res.data;
        if (limitEdit === edit) limitEdit = null;
        var name = res.data.name;
        showToast(
          value === ""
            ? t("{name}: the enterprise's limit.", { name: name })
            : res.data.limit > 0
              ? t("{name}: {limit} at once.", { name: name, limit: res.data.limit })
              : t("{name}: no limit.", { name: name })
        );
        renderTeam();
        if (dom.transfer.open) renderTransferAgents();
        return;
      }
      if (res.status === 401) {
        window.location.href = "/login?next=/console";
        return;
      }
      edit.error.textContent = apiErrorText(res);
      edit.error.hidden = false;
    });
  }

  /** The team again from the server: a new default limit changes the limit of everyone without their own. */
  function reloadRoster() {
    G.api("GET", "/api/v1/agent/agents").then(function (res) {
      if (!res.ok || !res.data || !res.data.agents) return;
      res.data.agents.forEach(function (a) {
        roster[a.id] = a;
      });
      renderTeam();
      if (dom.transfer.open) renderTransferAgents();
    });
  }

  function settingsFailed(text) {
    dom.settingsError.textContent = text;
    dom.settingsError.hidden = false;
  }

  function openSettings() {
    setPanel(false);
    dom.settingsError.hidden = true;
    dom.settingsSubmit.disabled = true;
    dom.settingsLimit.value = "";
    dom.settingsAutoClose.value = "";
    dom.settingsLanding.value = "";
    dom.settingsLimit.disabled = dom.settingsAutoClose.disabled = dom.settingsLanding.disabled = true;
    dom.settings.showModal();
    G.api("GET", "/api/v1/agent/settings").then(function (res) {
      if (!dom.settings.open) return;
      if (!res.ok || !res.data) {
        settingsFailed(res.status ? apiErrorText(res) : t("Could not load the routing settings."));
        return;
      }
      dom.settingsLimit.value = res.data.max_conversations_per_agent;
      dom.settingsAutoClose.value = res.data.auto_close_minutes;
      dom.settingsLanding.value = res.data.landing_domain || "";
      dom.settingsLimit.disabled = dom.settingsAutoClose.disabled = dom.settingsLanding.disabled = false;
      dom.settingsSubmit.disabled = false;
      dom.settingsLimit.focus();
    });
  }

  dom.settingsOpen.addEventListener("click", openSettings);
  dom.settingsCancel.addEventListener("click", function () {
    dom.settings.close();
  });
  dom.settingsForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (dom.settingsSubmit.disabled) return;
    var limit = wholeNumber(dom.settingsLimit, LIMIT_MAX);
    var minutes = wholeNumber(dom.settingsAutoClose, AUTO_CLOSE_MAX);
    if (limit === null || limit === "") {
      settingsFailed(t("Default limit") + ": " + t("Enter a whole number from {min} to {max}.", { min: 0, max: LIMIT_MAX }));
      dom.settingsLimit.focus();
      return;
    }
    if (minutes === null || minutes === "") {
      settingsFailed(t("Inactivity time") + ": " + t("Enter a whole number from {min} to {max}.", { min: 0, max: AUTO_CLOSE_MAX }));
      dom.settingsAutoClose.focus();
      return;
    }
    dom.settingsSubmit.disabled = true;
    dom.settingsError.hidden = true;
    var body = { max_conversations_per_agent: limit, auto_close_minutes: minutes, landing_domain: dom.settingsLanding.value.trim() };
    G.api("PATCH", "/api/v1/agent/settings", body).then(function (res) {
      dom.settingsSubmit.disabled = false;
      if (res.ok) {
        dom.settings.close();
        showToast(t("Routing settings saved."));
        reloadRoster();
        return;
      }
      if (res.status === 401) {
        window.location.href = "/login?next=/console";
        return;
      }
      settingsFailed(
        apiErrorText(res, {
          max_conversations_per_agent: t("Default limit"),
          auto_close_minutes: t("Inactivity time"),
          landing_domain: t("Landing domain"),
        })
      );
      if (res.data && res.data.error && res.data.error.message && res.data.error.message.landing_domain) dom.settingsLanding.focus();
    });
  });

  function setMyStatus(status) {
    if (state.settingStatus) return;
    state.settingStatus = true;
    renderTeam();
    act("status.set", { status: status }, "/api/v1/agent/status", { status: status }).then(function (result) {
      state.settingStatus = false;
      if (result.ok && result.data.agent) {
        roster[result.data.agent.id] = result.data.agent;
        me.status = result.data.agent.chosen;
      } else if (!result.ok) {
        showToast(refusalText(result), "error");
      }
      renderTeam();
    });
  }

  function setPanel(open) {
    dom.mePanel.hidden = !open;
    dom.meToggle.setAttribute("aria-expanded", String(open));
  }
  dom.meToggle.addEventListener("click", function (e) {
    e.stopPropagation();
    setPanel(dom.mePanel.hidden);
  });
  document.addEventListener("click", function (e) {
    // The path as dispatched: a click that re-renders the team list has a target no longer in the panel.
    var path = e.composedPath();
    if (!dom.mePanel.hidden && path.indexOf(dom.mePanel) < 0 && path.indexOf(dom.meToggle) < 0) setPanel(false);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !dom.mePanel.hidden) {
      setPanel(false);
      dom.meToggle.focus();
    }
  });
  Array.prototype.forEach.call(dom.statusChoices, function (button) {
    button.addEventListener("click", function () {
      setMyStatus(button.dataset.status);
    });
  });

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

  dom.actTake.addEventListener("click", takeCurrent);
  dom.actTransfer.addEventListener("click", openTransfer);
  dom.actClose.addEventListener("click", closeCurrent);
  dom.actReopen.addEventListener("click", reopenCurrent);
  dom.actClear.addEventListener("click", clearCurrent);

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
      Object.keys(roster).forEach(function (id) {
        delete roster[id];
      });
      (data.agents || []).forEach(function (a) {
        roster[a.id] = a;
      });
      renderTeam();
      // Every live conversation of the enterprise; one held live that is not among them changed while
      // this socket was away (closed, cleared): ask what it is now.
      var listed = {};
      (data.conversations || []).forEach(function (c) {
        listed[c.id] = true;
        upsertConversation(c);
      });
      Object.keys(conversations).forEach(function (id) {
        var c = conversations[id];
        if (isLive(c) && !listed[c.id]) {
          if (liveOf[c.visitor_id] === c.id) delete liveOf[c.visitor_id];
          if (data.conversations_more && !(c.assignee && c.assignee.id === me.id)) {
            // Left out of a bounded `ready` (the agent's own are always in it): back when its tab is opened.
            forgetConversation(c.id);
            return;
          }
          c.status = "closed"; // until the answer says more
          fetchConversation(c.id);
        }
      });
      countUnseen(data.counts);
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
      loadClosed(false); // its count, and what closed while away
      refresh();
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
        return !inView(m.visitor_id) && alerting(conversationOf(m));
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
      if (thread.findClient(senderOf(item), data.client_id)) {
        thread.merge({ id: data.id, client_id: data.client_id, sender: senderOf(item), created_at: data.created_at });
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
        var where = [v.city, describeDevice(v)].filter(Boolean).join(" · ");
        desktopNotify(t("New visitor: {name}", { name: vname(v) }), where || v.landing_page || "", v.visitor_id, "arrival-" + v.visitor_id);
      }
      if (state.selected === v.visitor_id) {
        renderChatHeader();
        renderInfo();
      }
      scheduleList();
    },
    "visitor.page": function (data) {
      // The visitor opened a page of the operator's site (the widget's page trail): newest first.
      var v = visitors[data.visitor_id];
      if (!v || !data.page) return;
      v.pages = [data.page]
        .concat(
          (v.pages || []).filter(function (p) {
            return p.id !== data.page.id;
          })
        )
        .slice(0, 50);
      if (state.selected === v.visitor_id) renderInfo();
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
    "visitor.read": function (data) {
      var thread = threads[data.visitor_id];
      if (!thread) return;
      thread.seenUpTo = Math.max(thread.seenUpTo || 0, data.up_to || 0);
      thread.records.forEach(function (rec) {
        if (rec.sender === "agent" && rec.id != null && rec.id <= thread.seenUpTo) rec.state = "read";
      });
      if (state.selected === data.visitor_id) view.render();
    },
    "conversation.updated": function (data) {
      var incoming = data.conversation;
      if (!incoming) return;
      if (!conversations[incoming.id] && data.change !== "opened") {
        // One a bounded `ready` left out: it was live (in All open, and in the queue if now taken), and
        // from now on this console counts it itself.
        state.unseen.open = Math.max(0, state.unseen.open - 1);
        if (data.change === "taken" || data.change === "assigned") state.unseen.queue = Math.max(0, state.unseen.queue - 1);
      }
      var c = upsertConversation(incoming, data.change);
      var v = visitors[c.visitor_id];
      var name = v ? vname(v) : t("Visitor");
      if (data.change === "opened" && c.status === "waiting" && !inView(c.visitor_id)) {
        G.playSound(assets.sound_arrival);
        title.set(totalUnread(), true);
        desktopNotify(t("{name} is waiting", { name: name }), t("A new conversation is in the queue."), c.visitor_id, "msg-" + c.visitor_id);
      } else if (data.change === "assigned" && isMine(c)) {
        G.playSound(assets.sound_arrival);
        desktopNotify(t("{name} is now yours", { name: name }), previewOf(v && v.last_message, c.visitor_id), c.visitor_id, "msg-" + c.visitor_id);
      }
      refresh();
    },
    "conversation.transferred": function (data) {
      var c = upsertConversation(data.conversation);
      if (!c) return;
      transferNotes[c.id] = { from: data.from, note: data.note || "" };
      noteFetched[c.id] = true;
      var v = visitors[c.visitor_id];
      G.playSound(assets.sound_arrival);
      title.set(totalUnread(), true);
      desktopNotify(
        t("{from} transferred {name} to you", { from: data.from ? data.from.name : t("an agent"), name: v ? vname(v) : t("Visitor") }),
        data.note || previewOf(v && v.last_message, c.visitor_id),
        c.visitor_id,
        "msg-" + c.visitor_id
      );
      showToast(t("{from} transferred {name} to you", { from: data.from ? data.from.name : t("an agent"), name: v ? vname(v) : t("Visitor") }));
      refresh();
    },
    "agent.status": function (data) {
      roster[data.id] = data;
      if (data.id === me.id) me.status = data.chosen;
      renderTeam();
      if (dom.transfer.open) renderTransferAgents();
    },
    "visitor.cleared": function (data) {
      clearVisitor(data.visitor_id);
    },
    ok: function (data) {
      finishAction(data.ref, { ok: true, data: data });
    },
    error: function (data) {
      if (data.ref && finishAction(data.ref, { ok: false, code: data.code, message: data.message })) return;
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
      // Whether the server did them is told by the next `ready` and its events, not by an answer.
      Object.keys(pendingActions).forEach(function (ref) {
        finishAction(ref, { ok: false, code: "disconnected", message: t("The connection dropped before the server answered; the list shows what happened once it is back.") });
      });
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
  G.composerFiles(dom.chatPanel, dom.input, sendFiles);

  /** What the server counts beyond what this console holds (a bounded `ready` left some out). */
  function countUnseen(counts) {
    ["mine", "queue", "open"].forEach(function (tab) {
      state.unseen[tab] = counts ? Math.max(0, (counts[tab] || 0) - tabConversations(tab).length) : 0;
    });
  }

  /** Fetch a live tab's first page when `ready` left some of its conversations out. */
  function loadLiveTab(tab) {
    if (!state.unseen[tab]) return;
    G.api("GET", "/api/v1/agent/conversations?tab=" + tab + "&limit=200").then(function (res) {
      if (!res.ok || !res.data) return;
      (res.data.conversations || []).forEach(function (c) {
        upsertConversation(c);
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

  // Typing previews expire on their own; refresh the relative bits once in a while. Waiting times tick.
  setInterval(scheduleList, 30000);
  setInterval(tickWaits, 1000);

  renderNotifyBanner();
  renderMute();
  renderTeam();
  showTab(state.tab);
  socket.connect();

  // For tests: a read-only peek at the console's state.
  window.GoFlyConsole = {
    state: state,
    visitors: visitors,
    threads: threads,
    outbox: outbox,
    socket: socket,
    select: select,
    conversations: conversations,
    roster: roster,
    // For the console's other modules (console-blacklist.js, console-workspace.js): frame handlers to add
    // to, what to redraw, what the details panel adds.
    handlers: handlers,
    infoExtras: infoExtras,
    vname: vname,
    can: can,
    me: me,
    upsertVisitor: upsertVisitor,
    scheduleList: scheduleList,
    renderInfo: renderInfo,
    renderChatHeader: renderChatHeader,
    view: view,
    showToast: showToast,
    confirmDialog: confirmDialog,
  };
})();
