/* GoFly console: the open conversation's actions (take, close, reopen, clear history) over the socket or HTTP, the confirm dialog and toasts. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var t = G.t;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var threads = C.threads;
  var conversations = C.conversations;
  var clearedAt = C.clearedAt;
  var vname = C.vname;
  var currentConversation = C.currentConversation;
  var upsertConversation = C.upsertConversation;
  var forgetConversation = C.forgetConversation;
  var refresh = C.refresh;
  var ACTION_TIMEOUT = 15000;

  var pendingActions = {}; // ref -> {resolve, timer}

  /**
   * An action frame over the socket, answered by `ok` or `error` with its ref; over HTTP while the
   * socket is down. Resolves {ok, data} or {ok: false, code, message}.
   */
  function act(type, data, url, body) {
    return new Promise(function (resolve) {
      var ref = "act-" + G.uuid();
      if (C.socket.send(type, Object.assign({ ref: ref }, data))) {
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
    C.renderConversationBar();
    return act("conversation." + kind, data, "/api/v1/agent/conversations/" + c.id + "/" + kind, extra || {}).then(function (result) {
      state.busy = false;
      if (result.ok && result.data.conversation) upsertConversation(result.data.conversation);
      if (!result.ok && (result.code === "not_found" || result.code === "already_taken" || result.code === "closed")) {
        C.fetchConversation(c.id);
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
      C.renderConversationBar();
      G.api("POST", "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/clear", {}).then(function (res) {
        state.busy = false;
        if (res.ok) clearVisitor(vid); // the socket's `visitor.cleared` may come later, or not while it is down
        else {
          var err = (res.data && res.data.error) || {};
          showToast(refusalText({ code: err.code, message: G.errorText(res) }), "error");
        }
        if (state.selected) C.renderConversationBar();
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
    C.outbox.items.forEach(function (item) {
      if (item.visitor_id === vid) C.showItem(item, thread);
    });
    if (v) {
      v.last_message = null;
      v.unread = 0;
    }
    if (state.selected === vid) {
      C.view.show(thread);
      C.renderChatHeader();
    }
    C.loadClosed(false);
    refresh();
  }

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

  dom.actTake.addEventListener("click", takeCurrent);
  dom.actClose.addEventListener("click", closeCurrent);
  dom.actReopen.addEventListener("click", reopenCurrent);
  dom.actClear.addEventListener("click", clearCurrent);

  Object.assign(C, {
    act: act,
    clearVisitor: clearVisitor,
    confirmDialog: confirmDialog,
    conversationAction: conversationAction,
    finishAction: finishAction,
    pendingActions: pendingActions,
    refusalText: refusalText,
    showToast: showToast,
  });
})(window.GoFlyConsole);
