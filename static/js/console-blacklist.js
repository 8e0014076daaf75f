/* GoFly console: blocking a visitor, their IP or their network from the conversation header or the
 * details panel; "Blocked until …" with Unblock in the details; the enterprise's blacklist screen.
 * Builds on static/js/console/*.js through window.GoFlyConsole; the server (chat/blacklist.py) decides and checks. */
(function () {
  "use strict";

  var G = window.GoFly;
  var C = window.GoFlyConsole;
  if (!G || !C) return;
  G.setStrings(G.readJSONScript("gofly-i18n-blacklist", {}));
  var t = G.t;
  var el = G.el;

  function $(id) {
    return document.getElementById(id);
  }
  var dom = {
    act: $("act-block"),
    dialog: $("block-dialog"),
    form: $("block-form"),
    ip: $("block-ip"),
    reason: $("block-reason"),
    until: $("block-until"),
    error: $("block-error"),
    cancel: $("block-cancel"),
    submit: $("block-submit"),
    section: $("blacklist-section"),
    open: $("blacklist-open"),
    list: $("blacklist-dialog"),
    rows: $("blacklist-rows"),
    empty: $("blacklist-empty"),
    add: $("blacklist-add"),
    network: $("blacklist-network"),
    addReason: $("blacklist-reason"),
    addUntil: $("blacklist-until"),
    listError: $("blacklist-error"),
    close: $("blacklist-close"),
  };
  var allowed = C.can("block");
  dom.act.hidden = !allowed;
  dom.section.hidden = !allowed;
  if (!allowed) return;

  function untilText(iso) {
    return iso ? t("Blocked until {when}", { when: G.formatDateTime(iso) }) : t("Blocked for good");
  }

  function refreshVisitor(vid) {
    return G.api("GET", "/api/v1/agent/visitors/" + encodeURIComponent(vid)).then(function (res) {
      var v = C.visitors[vid];
      if (res.ok && res.data && v) {
        v.blocked = res.data.blocked;
        if (C.state.selected === vid) C.renderInfo();
      }
    });
  }

  // --- the Block dialog ------------------------------------------------------------------------

  function openBlock() {
    var v = C.visitors[C.state.selected];
    if (!v) return;
    dom.form.reset();
    dom.until.value = "1d";
    dom.ip.textContent = v.ip ? "(" + v.ip + ")" : "";
    dom.form.querySelectorAll("input[name=what]").forEach(function (radio) {
      radio.disabled = radio.value !== "visitor" && !v.ip;
    });
    dom.error.hidden = true;
    dom.submit.disabled = false;
    dom.dialog.showModal();
    dom.reason.focus();
  }
  dom.act.addEventListener("click", openBlock);
  dom.cancel.addEventListener("click", function () {
    dom.dialog.close();
  });
  dom.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var vid = C.state.selected;
    var what = dom.form.querySelector("input[name=what]:checked");
    dom.submit.disabled = true;
    G.api("POST", "/api/v1/agent/blacklist", {
      visitor_id: vid,
      what: what ? what.value : "visitor",
      reason: dom.reason.value,
      until: dom.until.value,
    }).then(function (res) {
      dom.submit.disabled = false;
      if (!res.ok) {
        dom.error.textContent = G.errorText(res);
        dom.error.hidden = false;
        return;
      }
      dom.dialog.close();
      C.showToast(t("Blocked."));
      refreshVisitor(vid);
    });
  });

  // --- the details panel: "Blocked until …" and Unblock ----------------------------------------

  document.addEventListener("gofly:info-rendered", function (event) {
    var v = event.detail.visitor;
    var body = $("info-body");
    var children = [el("h3", { text: t("Block") })];
    if (v.blocked) {
      var unblock = el("button", { className: "btn btn--sm", text: t("Unblock"), attrs: { type: "button", id: "info-unblock" } });
      unblock.addEventListener("click", function () {
        unblock.disabled = true;
        G.api("DELETE", "/api/v1/agent/blacklist/visitor/" + encodeURIComponent(v.visitor_id)).then(function (res) {
          if (!res.ok && res.status !== 404) {
            unblock.disabled = false;
            C.showToast(G.errorText(res), "error");
            return;
          }
          C.showToast(t("Unblocked."));
          refreshVisitor(v.visitor_id);
        });
      });
      children.push(
        el("p", { className: "info-blocked", attrs: { id: "info-blocked" } }, [
          el("strong", { text: untilText(v.blocked.expires_at) }),
          v.blocked.reason ? el("span", { className: "muted", text: " · " + v.blocked.reason }) : null,
        ]),
        unblock
      );
    } else {
      var block = el("button", { className: "btn btn--sm btn--danger-ghost", text: t("Block"), attrs: { type: "button", id: "info-block" } });
      block.addEventListener("click", openBlock);
      children.push(block);
    }
    body.append(el("section", { className: "info-section" }, children.filter(Boolean)));
  });

  // --- the blacklist screen ----------------------------------------------------------------------

  function renderList(entries) {
    dom.rows.replaceChildren.apply(
      dom.rows,
      entries.map(function (entry) {
        var button = el("button", { className: "btn btn--sm", text: t("Unblock"), attrs: { type: "button" } });
        button.addEventListener("click", function () {
          button.disabled = true;
          G.api("DELETE", "/api/v1/agent/blacklist/" + entry.kind + "/" + encodeURIComponent(entry.id)).then(function (res) {
            if (!res.ok && res.status !== 404) {
              button.disabled = false;
              C.showToast(G.errorText(res), "error");
              return;
            }
            loadList();
            if (entry.kind === "visitor" && C.visitors[entry.id]) refreshVisitor(entry.id);
          });
        });
        var what = entry.kind === "visitor" ? t("Visitor {name}", { name: entry.what || entry.id }) : entry.what;
        return el("tr", { attrs: { "data-kind": entry.kind, "data-id": entry.id } }, [
          el("td", { text: what, attrs: { title: entry.id } }),
          el("td", { text: entry.reason || "" }),
          el("td", { text: entry.created_by || "" }),
          el("td", { text: entry.expires_at ? G.formatDateTime(entry.expires_at) : t("Forever") }),
          el("td", {}, [button]),
        ]);
      })
    );
    dom.empty.hidden = entries.length > 0;
  }

  function loadList() {
    return G.api("GET", "/api/v1/agent/blacklist").then(function (res) {
      if (res.ok && res.data) renderList(res.data.entries || []);
      else {
        dom.listError.textContent = G.errorText(res);
        dom.listError.hidden = false;
      }
    });
  }

  dom.open.addEventListener("click", function () {
    dom.listError.hidden = true;
    dom.list.showModal();
    loadList();
  });
  dom.close.addEventListener("click", function () {
    dom.list.close();
  });
  dom.add.addEventListener("submit", function (event) {
    event.preventDefault();
    dom.listError.hidden = true;
    G.api("POST", "/api/v1/agent/blacklist", {
      network: dom.network.value.trim(),
      reason: dom.addReason.value,
      until: dom.addUntil.value,
    }).then(function (res) {
      if (!res.ok) {
        dom.listError.textContent = G.errorText(res);
        dom.listError.hidden = false;
        return;
      }
      dom.add.reset();
      dom.addUntil.value = "forever";
      loadList();
    });
  });
})();
