/* GoFly console: the enterprise's routing settings dialog (default limit, inactivity time, landing domain). */
(function (C) {
  "use strict";

  var G = window.GoFly;
  var t = G.t;
  var dom = C.dom;
  var roster = C.roster;

  var AUTO_CLOSE_MAX = 60 * 24 * 30;

  /** The team again from the server: a new default limit changes the limit of everyone without their own. */
  function reloadRoster() {
    G.api("GET", "/api/v1/agent/agents").then(function (res) {
      if (!res.ok || !res.data || !res.data.agents) return;
      res.data.agents.forEach(function (a) {
        roster[a.id] = a;
      });
      C.renderTeam();
      if (dom.transfer.open) C.renderTransferAgents();
    });
  }

  function settingsFailed(text) {
    dom.settingsError.textContent = text;
    dom.settingsError.hidden = false;
  }

  function settingsInputs(disabled) {
    [dom.settingsLimit, dom.settingsAutoClose, dom.settingsLanding, dom.settingsOffline, dom.settingsOfflineEn].forEach(function (input) {
      input.disabled = disabled;
    });
  }

  function openSettings() {
    C.setPanel(false);
    dom.settingsError.hidden = true;
    dom.settingsSubmit.disabled = true;
    dom.settingsLimit.value = "";
    dom.settingsAutoClose.value = "";
    dom.settingsLanding.value = dom.settingsOffline.value = dom.settingsOfflineEn.value = "";
    settingsInputs(true);
    dom.settings.showModal();
    G.api("GET", "/api/v1/agent/settings").then(function (res) {
      if (!dom.settings.open) return;
      if (!res.ok || !res.data) {
        settingsFailed(res.status ? C.apiErrorText(res) : t("Could not load the routing settings."));
        return;
      }
      dom.settingsLimit.value = res.data.max_conversations_per_agent;
      dom.settingsAutoClose.value = res.data.auto_close_minutes;
      dom.settingsLanding.value = res.data.landing_domain || "";
      dom.settingsOffline.value = res.data.offline_text || "";
      dom.settingsOfflineEn.value = res.data.offline_text_en || "";
      settingsInputs(false);
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
    var limit = C.wholeNumber(dom.settingsLimit, C.LIMIT_MAX);
    var minutes = C.wholeNumber(dom.settingsAutoClose, AUTO_CLOSE_MAX);
    if (limit === null || limit === "") {
      settingsFailed(t("Default limit") + ": " + t("Enter a whole number from {min} to {max}.", { min: 0, max: C.LIMIT_MAX }));
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
    var body = {
      max_conversations_per_agent: limit,
      auto_close_minutes: minutes,
      landing_domain: dom.settingsLanding.value.trim(),
      offline_text: dom.settingsOffline.value.trim(),
      offline_text_en: dom.settingsOfflineEn.value.trim(),
    };
    G.api("PATCH", "/api/v1/agent/settings", body).then(function (res) {
      dom.settingsSubmit.disabled = false;
      if (res.ok) {
        dom.settings.close();
        C.showToast(t("Routing settings saved."));
        reloadRoster();
        return;
      }
      if (res.status === 401) {
        window.location.href = "/login?next=/console";
        return;
      }
      settingsFailed(
        C.apiErrorText(res, {
          max_conversations_per_agent: t("Default limit"),
          auto_close_minutes: t("Inactivity time"),
          landing_domain: t("Landing domain"),
          offline_text: t("Offline text"),
          offline_text_en: t("Offline text (English)"),
        })
      );
      if (res.data && res.data.error && res.data.error.message && res.data.error.message.landing_domain) dom.settingsLanding.focus();
    });
  });
})(window.GoFlyConsole);
