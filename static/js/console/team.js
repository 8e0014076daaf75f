/* GoFly console: the agent's own status, the team list with each colleague's load, and editing a colleague's limit. */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  var me = C.me;
  var STATUS_ORDER = C.STATUS_ORDER;
  var dom = C.dom;
  var state = C.state;
  var roster = C.roster;
  var agentAvatar = C.agentAvatar;
  var can = C.can;
  var loads = C.loads;

  // --- the team list -----------------------------------------------------------------------------

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

  // --- a colleague's limit (permission manage_agents) ---------------------------------------------

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
        C.showToast(
          value === ""
            ? t("{name}: the enterprise's limit.", { name: name })
            : res.data.limit > 0
              ? t("{name}: {limit} at once.", { name: name, limit: res.data.limit })
              : t("{name}: no limit.", { name: name })
        );
        renderTeam();
        if (dom.transfer.open) C.renderTransferAgents();
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

  // --- the agent's own status and the status menu -----------------------------------------------

  function setMyStatus(status) {
    if (state.settingStatus) return;
    state.settingStatus = true;
    renderTeam();
    C.act("status.set", { status: status }, "/api/v1/agent/status", { status: status }).then(function (result) {
      state.settingStatus = false;
      if (result.ok && result.data.agent) {
        roster[result.data.agent.id] = result.data.agent;
        me.status = result.data.agent.chosen;
      } else if (!result.ok) {
        C.showToast(C.refusalText(result), "error");
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

  Object.assign(C, {
    LIMIT_MAX: LIMIT_MAX,
    apiErrorText: apiErrorText,
    loadText: loadText,
    renderTeam: renderTeam,
    setPanel: setPanel,
    statusLabel: statusLabel,
    wholeNumber: wholeNumber,
  });
})(window.GoFlyConsole);
