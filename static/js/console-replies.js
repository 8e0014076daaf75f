/* GoFly console: canned replies in the composer ("/" picker and a panel), and the management screens
   of canned replies, keyword rules and welcome texts (replies app, docs/protocol.md "Replies"). */
(function () {
  "use strict";
  var G = window.GoFly;
  var el = G.el;
  var t = G.t;
  G.setStrings(G.readJSONScript("gofly-i18n-replies", {}));
  var cfg = G.readJSONScript("gofly-config", {});
  var me = cfg.agent || {};
  var isAdmin = (me.permissions || []).indexOf("manage_settings") >= 0;
  var input = document.getElementById("composer-input");
  var composer = input && input.closest(".composer");
  var picker = document.getElementById("canned-picker");
  var canned = { groups: [], replies: [], loaded: false, loading: null };

  function loadCanned(force) {
    if (canned.loading && !force) return canned.loading;
    canned.loading = G.api("GET", "/api/v1/agent/canned").then(function (res) {
      if (res.ok && res.data) {
        canned.groups = res.data.groups || [];
        canned.replies = res.data.replies || [];
        canned.loaded = true;
      } else canned.loading = null;
      return canned;
    });
    return canned.loading;
  }

  /** The text with its variables filled for the selected visitor. */
  function fill(text) {
    var C = window.GoFlyConsole || {};
    var v = C.visitors && C.state ? C.visitors[C.state.selected] : null;
    var values = {
      visitor_name: (v && (v.real_name || v.name)) || "",
      agent_name: me.name || "",
      enterprise_name: cfg.enterprise_name || "",
    };
    return String(text).replace(/\{(visitor_name|agent_name|enterprise_name)\}/g, function (m, name) {
      return values[name];
    });
  }

  /** Put the reply in the composer (replacing a "/query" being typed); the agent sends it as usual. */
  function insert(reply, replaceSlash) {
    var text = fill(reply.content);
    var value = input.value;
    if (replaceSlash) value = value.replace(/^\/\S*/, "");
    input.value = value ? text + (/^\s/.test(value) ? "" : " ") + value : text;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
    input.setSelectionRange(text.length, text.length);
  }

  function matches(reply, q) {
    if (!q) return true;
    q = q.toLowerCase();
    return reply.title.toLowerCase().indexOf(q) >= 0 || reply.content.toLowerCase().indexOf(q) >= 0;
  }

  // --- the "/" picker --------------------------------------------------------------------------------
  var pick = { open: false, items: [], index: 0 };

  function pickerQuery() {
    var m = /^\/(\S*)$/.exec(input.value);
    return m ? m[1] : null;
  }

  function renderPicker() {
    var q = pickerQuery();
    if (q === null) return closePicker();
    pick.items = canned.replies.filter(function (r) {
      return matches(r, q);
    }).slice(0, 50);
    if (pick.index >= pick.items.length) pick.index = Math.max(0, pick.items.length - 1);
    picker.textContent = "";
    if (!pick.items.length) {
      picker.appendChild(el("div", { className: "canned-picker__empty", text: canned.loaded ? t("No canned reply matches.") : "…" }));
    }
    pick.items.forEach(function (reply, i) {
      picker.appendChild(
        el(
          "div",
          {
            className: "canned-picker__item" + (i === pick.index ? " is-active" : ""),
            attrs: { role: "option", "aria-selected": String(i === pick.index), id: "canned-option-" + i },
            on: {
              mousedown: function (e) {
                e.preventDefault();
                choose(i);
              },
            },
          },
          [el("strong", { text: reply.title }), el("span", { text: reply.content })]
        )
      );
    });
    picker.hidden = false;
    pick.open = true;
    input.setAttribute("aria-activedescendant", pick.items.length ? "canned-option-" + pick.index : "");
    var active = picker.querySelector(".is-active");
    if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest" });
  }

  function closePicker() {
    pick.open = false;
    picker.hidden = true;
    input.removeAttribute("aria-activedescendant");
  }

  function choose(i) {
    var reply = pick.items[i];
    closePicker();
    if (reply) insert(reply, true);
  }

  if (input && composer && picker) {
    composer.appendChild(picker);
    input.addEventListener("input", function () {
      if (pickerQuery() === null) return closePicker();
      pick.index = pick.open ? pick.index : 0;
      if (!canned.loaded) loadCanned().then(renderPicker);
      renderPicker();
    });
    input.addEventListener("blur", function () {
      setTimeout(closePicker, 150);
    });
    // Capturing on the composer: runs before the composer's own Enter-to-send on the textarea.
    composer.addEventListener(
      "keydown",
      function (e) {
        if (!pick.open || e.target !== input) return;
        var n = pick.items.length;
        if (e.key === "ArrowDown" || e.key === "ArrowUp") {
          if (n) pick.index = (pick.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
          renderPicker();
        } else if ((e.key === "Enter" || e.key === "Tab") && !e.isComposing) {
          if (!n) return closePicker();
          choose(pick.index);
        } else if (e.key === "Escape") {
          closePicker();
        } else return;
        e.preventDefault();
        e.stopPropagation();
      },
      true
    );
  }

  // --- the panel of groups, opened by a composer button -------------------------------------------
  var panel = el("div", { className: "canned-panel", attrs: { role: "dialog", "aria-label": t("Canned replies") } });
  panel.hidden = true;
  var panelSearch = el("input", {
    className: "dialog__input canned-panel__search",
    attrs: { type: "search", placeholder: t("Search canned replies…"), "aria-label": t("Search canned replies…") },
  });
  var panelList = el("div", { className: "canned-panel__list" });
  panel.appendChild(panelSearch);
  panel.appendChild(panelList);

  function renderPanel() {
    var q = panelSearch.value.trim();
    panelList.textContent = "";
    var sections = [{ id: null, name: t("No group") }].concat(canned.groups);
    var any = false;
    sections.forEach(function (group) {
      var items = canned.replies.filter(function (r) {
        return (r.group_id || null) === group.id && matches(r, q);
      });
      if (!items.length) return;
      any = true;
      var title = group.name + (group.id && group.scope === "personal" ? " · " + t("Personal") : "");
      panelList.appendChild(el("h4", { className: "canned-panel__group", text: title }));
      items.forEach(function (reply) {
        panelList.appendChild(
          el(
            "button",
            {
              className: "canned-panel__item",
              attrs: { type: "button", title: reply.content },
              on: {
                click: function () {
                  closePanel();
                  insert(reply, false);
                },
              },
            },
            [el("strong", { text: reply.title }), el("span", { text: reply.content })]
          )
        );
      });
    });
    if (!any) panelList.appendChild(el("p", { className: "muted", text: canned.replies.length ? t("No canned reply matches.") : t("No canned replies yet.") }));
  }
  function openPanel() {
    panel.hidden = false;
    panelButton.setAttribute("aria-expanded", "true");
    loadCanned(true).then(renderPanel);
    renderPanel();
    panelSearch.focus();
  }
  function closePanel() {
    panel.hidden = true;
    panelButton.setAttribute("aria-expanded", "false");
  }
  var panelButton = el(
    "button",
    {
      className: "icon-btn composer__tool",
      attrs: { type: "button", id: "canned-open", title: t("Insert a canned reply"), "aria-label": t("Insert a canned reply"), "aria-expanded": "false" },
      on: {
        click: function () {
          if (panel.hidden) openPanel();
          else closePanel();
        },
      },
    },
    [el("span", { text: "/", attrs: { "aria-hidden": "true" } })]
  );
  if (composer) {
    var tools = composer.querySelector(".composer__tools");
    if (tools) tools.appendChild(panelButton);
    composer.appendChild(panel);
    panelSearch.addEventListener("input", renderPanel);
    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        e.stopPropagation();
        closePanel();
        input.focus();
      }
    });
    document.addEventListener("click", function (e) {
      if (!panel.hidden && !panel.contains(e.target) && e.target !== panelButton && !panelButton.contains(e.target)) closePanel();
    });
  }

  // --- management screens ---------------------------------------------------------------------------
  var dialog = document.getElementById("replies-dialog");
  var body = document.getElementById("replies-body");
  var toolbar = document.getElementById("replies-toolbar");
  var help = document.getElementById("replies-help");
  var tabsBox = document.getElementById("replies-tabs");
  var formDialog = document.getElementById("replies-form-dialog");
  var form = document.getElementById("replies-form");
  var formFields = document.getElementById("replies-form-fields");
  var formError = document.getElementById("replies-form-error");
  var formTitle = document.getElementById("replies-form-title");
  var current = "canned";
  var onSubmit = null;

  function toast(text, kind) {
    var node = document.getElementById("toast");
    if (!node) return;
    node.textContent = text;
    node.className = "toast" + (kind === "error" ? " toast--error" : "");
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () {
      node.hidden = true;
    }, 3000);
  }

  function tabs() {
    var list = [["canned", t("Canned replies")]];
    if (isAdmin) list.push(["rules", t("Keyword rules")], ["welcomes", t("Welcome texts")]);
    return list;
  }

  function showScreen(name) {
    current = name;
    tabsBox.textContent = "";
    tabs().forEach(function (tab) {
      tabsBox.appendChild(
        el("button", {
          className: "tab" + (tab[0] === name ? " is-active" : ""),
          text: tab[1],
          attrs: { type: "button", role: "tab", "aria-selected": String(tab[0] === name), "data-screen": tab[0] },
          on: {
            click: function () {
              showScreen(tab[0]);
            },
          },
        })
      );
    });
    toolbar.textContent = "";
    body.textContent = "";
    help.textContent = "";
    ({ canned: screenCanned, rules: screenRules, welcomes: screenWelcomes })[name]();
  }

  function table(headers, rows) {
    var tbody = el("tbody");
    rows.forEach(function (cells) {
      tbody.appendChild(el("tr", {}, cells.map(function (c) {
        return el("td", {}, [c]);
      })));
    });
    return el("table", { className: "admin-table" }, [
      el("thead", {}, [el("tr", {}, headers.map(function (h) {
        return el("th", { text: h });
      }))]),
      tbody,
    ]);
  }

  function actionButton(text, fn, danger) {
    return el("button", { className: "btn btn--sm" + (danger ? " btn--danger" : ""), text: text, attrs: { type: "button" }, on: { click: fn } });
  }

  function actions() {
    return el("span", { className: "admin-table__actions" }, Array.prototype.slice.call(arguments));
  }

  function remove(url, then) {
    if (!window.confirm(t("Delete this?"))) return;
    G.api("DELETE", url).then(function (res) {
      if (res.ok) {
        toast(t("Deleted."));
        then();
      } else toast(G.errorText(res) || t("Could not save."), "error");
    });
  }

  /** The form dialog: fields [{name, label, type, value, options, hint}], saved by `save(values)`. */
  function openForm(title, fields, save) {
    formTitle.textContent = title;
    formFields.textContent = "";
    formError.hidden = true;
    var getters = {};
    fields.forEach(function (f) {
      var id = "replies-field-" + f.name;
      var control;
      if (f.type === "select") {
        control = el("select", { className: "dialog__input", attrs: { id: id } }, f.options.map(function (o) {
          return el("option", { text: o[1], attrs: { value: o[0], selected: String(o[0]) === String(f.value) } });
        }));
        getters[f.name] = function () {
          return f.parse ? f.parse(control.value) : control.value;
        };
      } else if (f.type === "checkbox") {
        control = el("input", { attrs: { id: id, type: "checkbox", checked: !!f.value } });
        getters[f.name] = function () {
          return control.checked;
        };
      } else if (f.type === "rich") {
        control = richEditor(id, f.value || "");
        getters[f.name] = control.value;
        control = control.node;
      } else {
        control = el(f.type === "textarea" ? "textarea" : "input", {
          className: "dialog__input",
          attrs: { id: id, type: f.type === "number" ? "number" : f.type === "textarea" ? null : "text", rows: f.type === "textarea" ? 4 : null, maxlength: f.max || null },
        });
        control.value = f.value == null ? "" : f.value;
        getters[f.name] = function () {
          return f.type === "number" ? parseInt(control.value || "0", 10) : control.value;
        };
      }
      formFields.appendChild(el("label", { className: "dialog__label", text: f.label, attrs: { for: id } }));
      formFields.appendChild(control);
      if (f.hint) formFields.appendChild(el("small", { className: "dialog__hint", text: f.hint }));
    });
    onSubmit = function () {
      var values = {};
      Object.keys(getters).forEach(function (k) {
        values[k] = getters[k]();
      });
      save(values).then(function (res) {
        if (res.ok) {
          formDialog.close();
          toast(t("Saved."));
        } else {
          formError.textContent = G.errorText(res) || t("Could not save.");
          formError.hidden = false;
        }
      });
    };
    formDialog.showModal();
  }
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (onSubmit) onSubmit();
    });
    document.getElementById("replies-form-cancel").addEventListener("click", function () {
      formDialog.close();
    });
  }

  /** A small editor for welcome texts: a contenteditable with bold, italic and link; the server sanitises. */
  function richEditor(id, html) {
    var area = el("div", { className: "dialog__input rich-editor", attrs: { id: id, contenteditable: "true", role: "textbox", "aria-multiline": "true" } });
    // Shown as the server stored it (already sanitised), rebuilt with the same allow-list as the visitor page.
    area.appendChild(G.richNodes(html));
    function cmd(name, arg) {
      if (document.activeElement !== area) area.focus();
      document.execCommand(name, false, arg);
    }
    function keepFocus(e) {
      e.preventDefault(); // the editor keeps its selection while a button is pressed
    }
    var bar = el("div", { className: "rich-editor__bar" }, [
      el("button", { className: "btn btn--sm", text: "B", attrs: { type: "button", title: t("Bold"), "data-cmd": "bold" }, on: { mousedown: keepFocus, click: function () { cmd("bold"); } } }),
      el("button", { className: "btn btn--sm", text: "I", attrs: { type: "button", title: t("Italic"), "data-cmd": "italic" }, on: { mousedown: keepFocus, click: function () { cmd("italic"); } } }),
      el("button", {
        className: "btn btn--sm",
        text: t("Link"),
        attrs: { type: "button", "data-cmd": "link" },
        on: {
          mousedown: keepFocus,
          click: function () {
            var url = window.prompt(t("Link address (http or https)"), "https://");
            if (url && /^https?:\/\//i.test(url)) cmd("createLink", url);
          },
        },
      }),
    ]);
    return {
      node: el("div", { className: "rich-editor__wrap" }, [bar, area]),
      value: function () {
        return area.innerHTML; // markup the agent wrote; the server keeps only the allow-list (nh3)
      },
    };
  }


  function scopeText(scope) {
    return scope === "personal" ? t("Personal") : t("Enterprise");
  }

  function mayEdit(row) {
    return row.scope === "personal" || isAdmin;
  }

  function screenCanned() {
    var scopes = [["personal", t("Personal")]];
    if (isAdmin) scopes.push(["enterprise", t("Enterprise")]);
    function groupOptions(scope) {
      return [["", t("No group")]].concat(
        canned.groups.filter(function (g) {
          return !scope || g.scope === scope;
        }).map(function (g) {
          return [String(g.id), g.name + " · " + scopeText(g.scope)];
        })
      );
    }
    function parseGroup(v) {
      return v ? parseInt(v, 10) : null;
    }
    function replyForm(row) {
      var fields = [
        { name: "title", label: t("Title"), value: row ? row.title : "", max: 100 },
        { name: "content", label: t("Content"), type: "textarea", value: row ? row.content : "", max: 2000, hint: t("Variables: {visitor_name}, {agent_name}, {enterprise_name}") },
        { name: "group_id", label: t("Group"), type: "select", options: groupOptions(row && row.scope), value: row && row.group_id ? row.group_id : "", parse: parseGroup },
        { name: "position", label: t("Position"), type: "number", value: row ? row.position : 0 },
      ];
      if (!row) fields.unshift({ name: "scope", label: t("Scope"), type: "select", options: scopes, value: "personal" });
      openForm(row ? t("Edit") : t("Canned reply"), fields, function (values) {
        var p = row ? G.api("PATCH", "/api/v1/agent/canned/" + row.id, values) : G.api("POST", "/api/v1/agent/canned", values);
        return p.then(function (res) {
          if (res.ok) refresh();
          return res;
        });
      });
    }
    function groupForm(row) {
      var fields = [
        { name: "name", label: t("Group name"), value: row ? row.name : "", max: 100 },
        { name: "position", label: t("Position"), type: "number", value: row ? row.position : 0 },
      ];
      if (!row) fields.unshift({ name: "scope", label: t("Scope"), type: "select", options: scopes, value: "personal" });
      openForm(row ? t("Edit") : t("New group"), fields, function (values) {
        var p = row ? G.api("PATCH", "/api/v1/agent/canned-groups/" + row.id, values) : G.api("POST", "/api/v1/agent/canned-groups", values);
        return p.then(function (res) {
          if (res.ok) refresh();
          return res;
        });
      });
    }
    function move(row, delta) {
      var same = canned.replies.filter(function (r) {
        return r.scope === row.scope && (r.group_id || null) === (row.group_id || null);
      });
      var i = same.indexOf(row);
      var j = i + delta;
      if (j < 0 || j >= same.length) return;
      same.splice(i, 1);
      same.splice(j, 0, row);
      G.api("POST", "/api/v1/agent/canned/reorder", { ids: same.map(function (r) { return r.id; }) }).then(function (res) {
        if (!res.ok) toast(G.errorText(res) || t("Could not save."), "error");
        refresh();
      });
    }
    function refresh() {
      loadCanned(true).then(function () {
        if (current === "canned") render();
      });
    }
    function render() {
      body.textContent = "";
      body.appendChild(el("h3", { className: "replies__subtitle", text: t("Groups") }));
      body.appendChild(
        table([t("Group name"), t("Scope"), t("Position"), ""], canned.groups.map(function (g) {
          return [g.name, scopeText(g.scope), String(g.position), mayEdit(g) ? actions(
            actionButton(t("Edit"), function () { groupForm(g); }),
            actionButton(t("Delete"), function () { remove("/api/v1/agent/canned-groups/" + g.id, refresh); }, true)
          ) : ""];
        }))
      );
      body.appendChild(el("h3", { className: "replies__subtitle", text: t("Canned replies") }));
      if (!canned.replies.length) body.appendChild(el("p", { className: "muted", text: t("No canned replies yet.") }));
      else {
        var names = {};
        canned.groups.forEach(function (g) {
          names[g.id] = g.name;
        });
        body.appendChild(
          table([t("Title"), t("Content"), t("Group"), t("Scope"), ""], canned.replies.map(function (r) {
            return [r.title, r.content, r.group_id ? names[r.group_id] || "" : "—", scopeText(r.scope), mayEdit(r) ? actions(
              actionButton("↑", function () { move(r, -1); }),
              actionButton("↓", function () { move(r, 1); }),
              actionButton(t("Edit"), function () { replyForm(r); }),
              actionButton(t("Delete"), function () { remove("/api/v1/agent/canned/" + r.id, refresh); }, true)
            ) : ""];
          }))
        );
      }
    }
    help.textContent = t("Type / at the start of a reply for canned replies.");
    toolbar.appendChild(el("button", { className: "btn btn--primary btn--sm", text: t("Add") + ": " + t("Canned reply"), attrs: { type: "button", id: "canned-add" }, on: { click: function () { replyForm(null); } } }));
    toolbar.appendChild(el("button", { className: "btn btn--sm", text: t("New group"), attrs: { type: "button" }, on: { click: function () { groupForm(null); } } }));
    render();
    refresh();
  }

  function screenRules() {
    var rules = [];
    function refresh() {
      G.api("GET", "/api/v1/agent/keyword-rules").then(function (res) {
        if (!res.ok) return toast(G.errorText(res) || t("Could not load."), "error");
        rules = res.data.rules;
        if (current === "rules") render();
      });
    }
    function ruleForm(row) {
      openForm(row ? t("Edit") : t("Keyword rules"), [
        { name: "keyword", label: t("Keyword"), value: row ? row.keyword : "", max: 100 },
        { name: "match", label: t("Match"), type: "select", options: [["contains", t("contains")], ["exact", t("exact")]], value: row ? row.match : "contains" },
        { name: "reply", label: t("Reply"), type: "textarea", value: row ? row.reply : "", max: 2000 },
        { name: "priority", label: t("Priority"), type: "number", value: row ? row.priority : 0 },
        { name: "enabled", label: t("Enabled"), type: "checkbox", value: row ? row.enabled : true },
      ], function (values) {
        var p = row ? G.api("PATCH", "/api/v1/agent/keyword-rules/" + row.id, values) : G.api("POST", "/api/v1/agent/keyword-rules", values);
        return p.then(function (res) {
          if (res.ok) refresh();
          return res;
        });
      });
    }
    function render() {
      body.textContent = "";
      if (!rules.length) return body.appendChild(el("p", { className: "muted", text: t("No keyword rules yet.") }));
      body.appendChild(
        table([t("Keyword"), t("Match"), t("Reply"), t("Priority"), t("Enabled"), ""], rules.map(function (r) {
          return [r.keyword, t(r.match), r.reply, String(r.priority), r.enabled ? t("Yes") : t("No"), actions(
            actionButton(t("Edit"), function () { ruleForm(r); }),
            actionButton(t("Delete"), function () { remove("/api/v1/agent/keyword-rules/" + r.id, refresh); }, true)
          )];
        }))
      );
    }
    help.textContent = t("A visitor message matching the highest-priority enabled rule is answered at once, even with no agent online.");
    toolbar.appendChild(el("button", { className: "btn btn--primary btn--sm", text: t("Add"), attrs: { type: "button", id: "rule-add" }, on: { click: function () { ruleForm(null); } } }));
    refresh();
  }

  // A welcome text's language: every language, or one the visitor page speaks (settings.LANGUAGES).
  var LANGUAGES = [["", t("Every language")], ["zh-hans", "简体中文"], ["en", "English"]];

  function screenWelcomes() {
    var rows = [];
    function refresh() {
      G.api("GET", "/api/v1/agent/welcome-texts").then(function (res) {
        if (!res.ok) return toast(G.errorText(res) || t("Could not load."), "error");
        rows = res.data.welcome_texts;
        if (current === "welcomes") render();
      });
    }
    function welcomeForm(row) {
      openForm(row ? t("Edit") : t("Welcome text"), [
        { name: "content", label: t("Welcome text"), type: "rich", value: row ? row.content : "" },
        { name: "language", label: t("Language"), type: "select", value: row ? row.language : "", options: LANGUAGES },
        { name: "position", label: t("Position"), type: "number", value: row ? row.position : rows.length },
      ], function (values) {
        var p = row ? G.api("PATCH", "/api/v1/agent/welcome-texts/" + row.id, values) : G.api("POST", "/api/v1/agent/welcome-texts", values);
        return p.then(function (res) {
          if (res.ok) refresh();
          return res;
        });
      });
    }
    function render() {
      body.textContent = "";
      if (!rows.length) return body.appendChild(el("p", { className: "muted", text: t("No welcome texts yet.") }));
      body.appendChild(
        table([t("Welcome text"), t("Language"), t("Position"), ""], rows.map(function (r) {
          var language = LANGUAGES.filter(function (o) { return o[0] === (r.language || ""); })[0];
          return [el("div", { className: "bubble--rich" }, [G.richNodes(r.content)]), language ? language[1] : r.language, String(r.position), actions(
            actionButton(t("Edit"), function () { welcomeForm(r); }),
            actionButton(t("Delete"), function () { remove("/api/v1/agent/welcome-texts/" + r.id, refresh); }, true)
          )];
        }))
      );
    }
    help.textContent = t("Shown in order when a conversation opens, in the visitor's language (texts for every language when none is written in it); bold, italic, links and lists are kept, anything else is removed.");
    toolbar.appendChild(el("button", { className: "btn btn--primary btn--sm", text: t("Add"), attrs: { type: "button", id: "welcome-add" }, on: { click: function () { welcomeForm(null); } } }));
    refresh();
  }

  // The entry point: a button in the "me" panel, next to the routing settings.
  var mePanel = document.getElementById("me-panel");
  if (mePanel && dialog) {
    mePanel.appendChild(
      el("section", { className: "popover__section" }, [
        el("button", {
          className: "btn btn--sm popover__wide",
          text: t("Replies and welcome texts"),
          attrs: { type: "button", id: "replies-open" },
          on: {
            click: function () {
              mePanel.hidden = true;
              showScreen(current);
              dialog.showModal();
            },
          },
        }),
      ])
    );
    document.getElementById("replies-close").addEventListener("click", function () {
      dialog.close();
    });
  }

  window.GoFlyReplies = { fill: fill, insert: insert, reload: loadCanned, show: showScreen };
})();
