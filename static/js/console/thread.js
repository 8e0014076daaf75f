/* GoFly console: the open conversation: thread and header, selecting a visitor, history pages, read receipts, messages in, composer and outbox. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var cfg = C.cfg;
  var assets = C.assets;
  var me = C.me;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var threads = C.threads;
  var conversations = C.conversations;
  var liveOf = C.liveOf;
  var transferNotes = C.transferNotes;
  var noteFetched = C.noteFetched;
  var drafts = C.drafts;
  var lastReadSent = C.lastReadSent;
  var title = C.title;
  var threadFor = C.threadFor;
  var vname = C.vname;
  var presenceText = C.presenceText;
  var senderOf = C.senderOf;
  var visitorAvatar = C.visitorAvatar;
  var agentAvatar = C.agentAvatar;
  var totalUnread = C.totalUnread;
  var can = C.can;
  var isLive = C.isLive;
  var isMine = C.isMine;
  var alerting = C.alerting;
  var currentConversation = C.currentConversation;
  var ensureVisitor = C.ensureVisitor;
  var upsertConversation = C.upsertConversation;
  var forgetConversation = C.forgetConversation;
  var waitNode = C.waitNode;
  var statusChip = C.statusChip;
  var agentName = C.agentName;
  var refresh = C.refresh;
  var PAGE_SIZE = 20;
  var OUTBOX_KEY = "gofly.outbox.agent." + me.id;

  // --- thread and header -----------------------------------------------------------------------

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
    var bits = [presenceText(v)];
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
    var asked = Date.now();
    var p = (conversationFetches[id] = G.api("GET", "/api/v1/agent/conversations/" + id).then(function (res) {
      delete conversationFetches[id];
      if (res.status === 404) {
        forgetConversation(id);
        refresh();
        return null;
      }
      if (!res.ok || !res.data) return conversations[id] || null;
      if (C.clearedSince(res.data.visitor_id, asked)) return null; // deleted since: this answer is older
      var c = upsertConversation(res.data);
      refresh();
      return c;
    }));
    return p;
  }

  // --- selecting a visitor, history pages, read receipts ---------------------------------------

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
    C.renderInfo();
    C.scheduleList();
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
        // A page event may have come in after the question was asked: the trail keeps it.
        if (res.data.pages) v.pages = C.mergePages(v.pages, res.data.pages);
        if ("blocked" in res.data) v.blocked = res.data.blocked; // console-blacklist.js shows it
        // Their earlier conversations too: a visitor without a live one can be reopened from the header.
        // Unless their history was cleared meanwhile: the server may have read them before the clear.
        if (!C.clearedSince(vid, askedAt)) {
          (res.data.conversations || []).forEach(function (c) {
            upsertConversation(c);
          });
        }
        if (state.selected === vid) {
          C.renderInfo();
          renderChatHeader();
        }
        C.scheduleList();
      }
    });
  }

  function loadPage(vid, before) {
    var thread = threadFor(vid);
    var url = "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/messages?limit=" + PAGE_SIZE + (before ? "&before=" + before : "");
    var asked = Date.now();
    return G.api("GET", url).then(function (res) {
      if (res.status === 401 || res.status === 403) {
        if (res.status === 401) window.location.href = "/login?next=/console";
        return;
      }
      if (!res.ok || !res.data) return;
      if (C.clearedSince(vid, asked)) return; // the page may hold messages the clear deleted
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
    C.scheduleList();
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
    if (C.socket.send("read", { visitor_id: vid, up_to: upTo })) {
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
      C.scheduleList();
      if (state.selected === vid) {
        renderChatHeader();
        C.renderInfo();
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
    C.desktopNotify(
      t("{name} says", { name: v ? vname(v) : t("Visitor") }),
      G.previewText(msg.content).slice(0, 140),
      msg.visitor_id,
      "msg-" + msg.visitor_id
    );
  }

  // --- outbox ----------------------------------------------------------------------------------

  var outbox = new G.Outbox({
    key: OUTBOX_KEY,
    transmit: function (item) {
      var extra = item.note ? { visitor_id: item.visitor_id, note: true } : { visitor_id: item.visitor_id };
      return C.socket.send("message.send", outbox.frameData(item, extra));
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

  // --- composer --------------------------------------------------------------------------------

  var composer = new G.Composer(dom.input, dom.send, {
    maxLength: cfg.max_length || 5000,
    onSend: send,
    onTyping: function () {
      if (state.selected) C.socket.send("typing", { visitor_id: state.selected });
    },
  });
  G.EmojiPicker(dom.emoji, dom.input);
  G.composerFiles(dom.chatPanel, dom.input, sendFiles);

  Object.assign(C, {
    conversationOf: conversationOf,
    fetchConversation: fetchConversation,
    fetchSummary: fetchSummary,
    flushReads: flushReads,
    inView: inView,
    markRead: markRead,
    mergeMessage: mergeMessage,
    onNewVisitorMessage: onNewVisitorMessage,
    outbox: outbox,
    pendingReads: pendingReads,
    renderChatHeader: renderChatHeader,
    renderConversationBar: renderConversationBar,
    select: select,
    showItem: showItem,
    view: view,
  });
})(window.GoFlyConsole);
