/* GoFly console, loaded first: window.GoFlyConsole with the config, DOM handles, state, stores and visitor and conversation bookkeeping the other files share. */
(function () {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var page = G.boot();
  var cfg = page.cfg;
  var assets = page.assets;
  var me = cfg.agent || {};
  // The seam of the console's files (static/js/console/*.js, then console-*.js): each takes what this one
  // holds as locals and adds what it provides. They call each other's functions through it at call time,
  // since a file loaded later has added nothing yet while an earlier one runs. Tests peek at it read-only.
  var C = (window.GoFlyConsole = {});
  // What the console-*.js files that are not part of the desk (announcements) hear of each frame: f(type, data).
  C.frameListeners = [];

  var TAB_KEY = "gofly.console.tab." + me.id;
  var TABS = ["mine", "queue", "open", "closed", "online", "recent"];
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
    settingsOffline: $("settings-offline"),
    settingsOfflineEn: $("settings-offline-en"),
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
  /** Whether the visitor's history was cleared since `asked`: the server may have read an answer asked for
   * then before the clear committed, and it would bring back their conversations or messages. */
  function clearedSince(vid, asked) {
    return clearedAt[vid] >= asked;
  }
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
  /** Whether the visitor can be reached now: on the page, or (a WeChat follower, who has no socket) through WeChat. */
  function presenceText(v) {
    if (v && v.online) return t("Online");
    return v && v.channel === "wechat" ? t("WeChat follower") : t("Offline");
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
    var last = v.last_message;
    var next = summary.last_message;
    // A summary leaves out a timeline line's meta (who closed, took, transferred): the copy a frame or a
    // history page brought of the same line keeps the preview naming them.
    var keepLast = last && next && (last.id > next.id || (last.id === next.id && !!last.meta && !next.meta));
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
      C.fetchSummary(vid);
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

  /** Re-render what depends on the conversations: the list and the open conversation's header. */
  function refresh() {
    C.scheduleList();
    C.renderTeam();
    if (state.selected) C.renderConversationBar();
    if (dom.transfer.open) C.renderTransferAgents();
  }

  Object.assign(C, {
    cfg: cfg,
    assets: assets,
    me: me,
    TAB_KEY: TAB_KEY,
    STATUS_ORDER: STATUS_ORDER,
    dom: dom,
    state: state,
    visitors: visitors,
    threads: threads,
    rows: rows,
    conversations: conversations,
    liveOf: liveOf,
    crows: crows,
    roster: roster,
    transferNotes: transferNotes,
    noteFetched: noteFetched,
    clearedAt: clearedAt,
    clearedSince: clearedSince,
    drafts: drafts,
    lastReadSent: lastReadSent,
    title: title,
    threadFor: threadFor,
    vname: vname,
    presenceText: presenceText,
    senderOf: senderOf,
    visitorAvatar: visitorAvatar,
    agentAvatar: agentAvatar,
    activityTime: activityTime,
    totalUnread: totalUnread,
    upsertVisitor: upsertVisitor,
    describeDevice: describeDevice,
    deviceKind: deviceKind,
    can: can,
    isLive: isLive,
    isMine: isMine,
    alerting: alerting,
    timeOf: timeOf,
    conversationActivity: conversationActivity,
    latestConversation: latestConversation,
    currentConversation: currentConversation,
    ensureVisitor: ensureVisitor,
    upsertConversation: upsertConversation,
    forgetConversation: forgetConversation,
    loads: loads,
    waitNode: waitNode,
    tickWaits: tickWaits,
    statusChip: statusChip,
    agentName: agentName,
    previewOf: previewOf,
    refresh: refresh,
  });
})();
