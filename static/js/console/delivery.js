/* GoFly console: how a message to a visitor on another channel (WeChat) went: `message.delivery` frames and the
   `meta.delivery` of history, shown under the message when it failed or is being retried (docs/protocol.md 6.13). */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var dom = C.dom;
  var state = C.state;
  var threads = C.threads;
  var latest = {}; // message id -> the latest delivery state heard live (newer than a loaded page's meta)

  function stateOf(id, records) {
    if (latest[id]) return latest[id];
    var rec = records[id];
    return rec && rec.meta && rec.meta.delivery ? rec.meta.delivery : null;
  }

  function line(delivery) {
    var failed = delivery.status === "failed";
    var label = failed ? t("Not delivered on WeChat") : t("Sending on WeChat again…");
    if (failed && delivery.notice === "template") label = t("Not delivered on WeChat; the follower was told by a template message");
    var text = delivery.reason ? label + " · " + delivery.reason : label;
    if (delivery.errcode != null) text += " (" + delivery.errcode + ")";
    return el("div", { className: "msg__status msg__delivery msg__status--" + (failed ? "failed" : "sending"), attrs: { role: "status" } }, [
      el("span", { className: "msg__tick", attrs: { "aria-hidden": "true" } }),
      el("span", { text: text }),
    ]);
  }

  /** Put each shown message's delivery state under it (nothing once sent); cheap, so it runs after every render. */
  function decorate() {
    var thread = state.selected && threads[state.selected];
    if (!thread) return;
    var records = {};
    thread.records.forEach(function (rec) {
      if (rec.id != null) records[rec.id] = rec;
    });
    var nodes = dom.messages.querySelectorAll(".msg--out[data-id]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var body = node.querySelector(".msg__body");
      var old = body && body.querySelector(".msg__delivery");
      var delivery = node.dataset.id ? stateOf(node.dataset.id, records) : null;
      var key = delivery && delivery.status !== "sent" ? [delivery.status, delivery.errcode, delivery.reason, delivery.notice || ""].join("|") : "";
      if (!body || (old ? old.dataset.key : "") === key) continue;
      if (old) old.remove();
      if (key) {
        var shown = line(delivery);
        shown.dataset.key = key;
        shown.style.textAlign = "right"; // under the bubble it belongs to, as "Sent" is
        body.appendChild(shown);
      }
    }
  }

  // The thread view rebuilds its children on every render: decorate what it put there.
  new MutationObserver(decorate).observe(dom.messages, { childList: true });

  C.frameListeners.push(function (type, data) {
    if (type !== "message.delivery" || !data || data.message_id == null) return;
    latest[data.message_id] = { channel: data.channel, status: data.status, errcode: data.errcode, reason: data.reason || "", notice: data.notice || null };
    if (data.visitor_id === state.selected) decorate();
  });
})(window.GoFlyConsole);
