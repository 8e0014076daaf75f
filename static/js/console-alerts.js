/* The console's e-mail alert setting (status menu): on/off and the address, through /api/v1/agent/alerts. */
(function () {
  "use strict";
  var G = window.GoFly;
  var box = document.getElementById("alerts-enabled");
  var email = document.getElementById("alerts-email");
  if (!box || !email) return;
  var hints = {
    digest: document.getElementById("alerts-hint-digest"),
    off: document.getElementById("alerts-hint-off"),
    failing: document.getElementById("alerts-hint-failing"),
    error: document.getElementById("alerts-error"),
  };
  var URL = "/api/v1/agent/alerts";
  // Ticked before an address was given: the server refuses to turn alerts on without one, so the wish
  // waits for the address and goes with it.
  var wanted = false;
  // Requests sent so far: only the answer to the latest one is shown.
  var sent = 0;
  var STALE = new Error("stale");

  function show(data) {
    if (data.email_enabled) wanted = false;
    box.checked = !!data.email_enabled;
    if (document.activeElement !== email) email.value = data.email || "";
    hints.digest.hidden = !data.email_enabled || !data.mail_configured;
    hints.off.hidden = !!data.mail_configured;
    hints.failing.hidden = !data.failing;
  }

  function fail(text) {
    hints.error.textContent = text;
    hints.error.hidden = !text;
  }

  function request(method, body) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = G.cookie("csrftoken") || "";
      opts.body = JSON.stringify(body);
    }
    var mine = ++sent;
    return fetch(URL, opts).then(function (res) {
      return res.json().then(function (data) {
        if (!res.ok) throw new Error((data && data.error && data.error.message) || String(res.status));
        // An answer overtaken by a later request (a reload after a refusal, then the next tick) is stale.
        if (mine !== sent) throw STALE;
        return data;
      });
    });
  }

  function save(body) {
    fail("");
    return request("PATCH", body)
      .then(show)
      .catch(function (err) {
        if (err === STALE) return;
        fail(err.message);
        return load();
      });
  }

  function load() {
    return request("GET").then(show, function () {});  // a stale or failed reload changes nothing
  }

  box.addEventListener("change", function () {
    var body = { email_enabled: box.checked };
    var address = email.value.trim();
    if (address) body.email = address;
    wanted = box.checked && !address;
    save(body).then(function () {
      if (wanted) email.focus();
    });
  });
  email.addEventListener("change", function () {
    var body = { email: email.value.trim() };
    if (wanted && body.email) body.email_enabled = true;
    save(body);
  });
  email.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      email.blur();
    }
  });
  load();
  if (window.GoFlyConsole) window.GoFlyConsole.alerts = { load: load };
})();
