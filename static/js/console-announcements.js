/* The platform's announcements on the console: a bell with the unread count and a panel, newest first;
   loaded at start and after every (re)connect, and changed live by the `announcement` and
   `announcement.withdrawn` frames. Opening the panel marks what it shows as read. */
(function () {
  "use strict";
  var G = window.GoFly;
  var C = window.GoFlyConsole;
  var t = G.t;
  var el = G.el;
  var toggle = document.getElementById("announce-toggle");
  var panel = document.getElementById("announce-panel");
  var list = document.getElementById("announce-list");
  var empty = document.getElementById("announce-empty");
  var badge = document.getElementById("announce-unread");
  if (!toggle || !C) return;
  var URL = "/api/v1/agent/announcements";
  var items = {}; // id -> announcement as the API gives it
  var loads = 0;

  function shown() {
    var now = Date.now();
    return Object.keys(items)
      .map(function (id) {
        return items[id];
      })
      .filter(function (a) {
        return !a.expires_at || new Date(a.expires_at).getTime() > now;
      })
      .sort(function (a, b) {
        return b.published_at < a.published_at ? -1 : b.published_at > a.published_at ? 1 : b.id - a.id;
      });
  }

  function render() {
    var visible = shown();
    var unread = visible.filter(function (a) {
      return !a.read;
    }).length;
    badge.hidden = !unread;
    badge.textContent = unread > 99 ? "99+" : String(unread);
    toggle.title = unread ? t("Announcements ({count} unread)", { count: unread }) : t("Announcements");
    list.textContent = "";
    visible.forEach(function (a) {
      list.appendChild(
        el("li", { className: "announce" + (a.read ? "" : " announce--unread"), dataset: { id: a.id } }, [
          el("div", { className: "announce__head" }, [
            el("strong", { className: "announce__title", text: a.title }),
            el("time", { className: "announce__time", text: G.formatDateTime(a.published_at), attrs: { datetime: a.published_at } }),
          ]),
          el("div", { className: "announce__body bubble--rich" }, [G.richNodes(a.content)]),
        ])
      );
    });
    empty.hidden = visible.length > 0;
  }

  function load() {
    var mine = ++loads;
    fetch(URL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (!data || mine !== loads) return; // a later load answers for both
        items = {};
        data.announcements.forEach(function (a) {
          items[a.id] = a;
        });
        render();
        if (!panel.hidden) markRead();
      })
      .catch(function () {}); // the next (re)connect loads again
  }

  function markRead() {
    shown().forEach(function (a) {
      if (a.read) return;
      a.read = true;
      fetch(URL + "/" + a.id + "/read", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": G.cookie("csrftoken") || "" },
      }).catch(function () {});
    });
    render();
  }

  function setPanel(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) markRead();
  }
  toggle.addEventListener("click", function (e) {
    e.stopPropagation();
    setPanel(panel.hidden);
  });
  document.addEventListener("click", function (e) {
    var path = e.composedPath();
    if (!panel.hidden && path.indexOf(panel) < 0 && path.indexOf(toggle) < 0) setPanel(false);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) {
      setPanel(false);
      toggle.focus();
    }
  });

  C.frameListeners.push(function (type, data) {
    if (type === "ready") load();
    else if (type === "announcement") {
      var a = data.announcement;
      a.read = false; // new, or changed since it was read: worth a look
      items[a.id] = a;
      render();
      if (!panel.hidden) markRead();
    } else if (type === "announcement.withdrawn") {
      delete items[data.id];
      render();
    }
  });
  render();
})();
