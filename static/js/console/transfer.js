/* GoFly console: the transfer dialog: a colleague to hand the open conversation to, with a note. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var me = C.me;
  var STATUS_ORDER = C.STATUS_ORDER;
  var dom = C.dom;
  var state = C.state;
  var visitors = C.visitors;
  var conversations = C.conversations;
  var roster = C.roster;
  var vname = C.vname;
  var agentAvatar = C.agentAvatar;
  var isLive = C.isLive;
  var currentConversation = C.currentConversation;
  var loads = C.loads;

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
          el("span", { className: "agent-option__sub", text: C.statusLabel(a.status) + (off ? "" : " · " + C.loadText(load, a.limit)) }),
        ]),
        full && !off ? el("span", { className: "chip chip--full", text: t("Full") }) : null,
      ]);
    });
    if (!nodes.length) nodes.push(el("p", { className: "muted agent-pick__empty", text: t("No colleague to transfer to.") }));
    dom.transferAgents.replaceChildren.apply(dom.transferAgents, nodes);
    dom.transferSubmit.disabled = !transferring.to || state.busy;
  }

  dom.actTransfer.addEventListener("click", openTransfer);
  dom.transferForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!transferring || !transferring.to) return;
    var c = conversations[transferring.conversation.id] || transferring.conversation;
    var target = roster[transferring.to];
    var note = dom.transferNote.value.trim();
    dom.transferSubmit.disabled = true;
    dom.transferError.hidden = true;
    C.conversationAction("transfer", c, { to_agent_id: transferring.to, note: note }, target).then(function (result) {
      if (result.ok) {
        transferring = null;
        dom.transfer.close();
        C.showToast(t("Transferred to {name}.", { name: target ? target.name : t("a colleague") }));
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

  Object.assign(C, {
    openTransfer: openTransfer,
    renderTransferAgents: renderTransferAgents,
  });
})(window.GoFlyConsole);
