/* The console's workspace extras (chat.workspace, chat.search): remark names, tags, internal notes, search.
 * Loaded after static/js/console/*.js; builds on what they share as window.GoFlyConsole. */
(function () {
  "use strict";
  var C = window.GoFlyConsole;
  var G = window.GoFly;
  if (!C || !G) return;
  var el = G.el;
  var t = G.t;
  var node = document.getElementById("gofly-i18n-workspace");
  if (node) {
    try {
      G.setStrings(JSON.parse(node.textContent));
    } catch (e) {
      /* English it is */
    }
  }
  var COLOURS = ["grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"];
  var tags = {}; // id -> {id, name, colour}
  var admin = C.can("manage_settings");
  var state = C.state;

  function tagList() {
    return Object.keys(tags)
      .map(function (id) {
        return tags[id];
      })
      .sort(function (a, b) {
        return a.name.localeCompare(b.name);
      });
  }
  function refreshAll() {
    changes++;
    C.renderInfo();
    C.scheduleList();
    renderFilter();
    if (dialog.open) renderDialog();
  }
  var changes = 0; // tags learned or changed here since the page loaded
  function loadTags() {
    var at = changes;
    return G.api("GET", "/api/v1/agent/tags").then(function (res) {
      if (!res.ok || !res.data) return;
      if (at !== changes) return loadTags(); // a tag changed meanwhile: the answer may not hold it
      Object.keys(tags).forEach(function (id) {
        delete tags[id];
      });
      res.data.tags.forEach(function (tag) {
        tags[tag.id] = tag;
      });
      refreshAll();
    });
  }
  /** Note that the visitor's `key` was set here now: an older answer of the details must not undo it. */
  function changed(v, key) {
    v.changedAt = v.changedAt || {};
    v.changedAt[key] = Date.now();
  }
  function refusal(res) {
    return (res.data && res.data.error && typeof res.data.error.message === "string" && res.data.error.message) || t("That did not work; try again.");
  }

  // --- details panel: remark name and tags ----------------------------------------------------

  var editing = null; // visitor id whose remark is being edited
  // What is typed survives a redraw of the panel (an event, a tag loaded): {vid: {remark, tag}}.
  var drafts = {};
  function draftOf(vid) {
    return drafts[vid] || (drafts[vid] = { remark: null, tag: "" });
  }
  /** Focus the new copy of an input that had the focus before the panel was redrawn. */
  function keepFocus(input) {
    var old = document.getElementById(input.id);
    if (old && document.activeElement === old) {
      var start = old.selectionStart;
      setTimeout(function () {
        input.focus();
        if (start != null) input.setSelectionRange(start, start);
      }, 0);
    }
  }

  function remarkRow(v) {
    if (editing === v.visitor_id) {
      var input = el("input", {
        className: "remark__input",
        attrs: { id: "remark-input", type: "text", maxlength: 100, value: v.real_name || "", "aria-label": t("Remark name") },
      });
      var draft = draftOf(v.visitor_id);
      input.value = draft.remark != null ? draft.remark : v.real_name || "";
      input.addEventListener("input", function () {
        draft.remark = input.value;
      });
      input.addEventListener("keydown", function (e) {
        if (e.key === "Enter") {
          e.preventDefault();
          saveRemark(v, input.value);
        } else if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          editing = null;
          draft.remark = null;
          C.renderInfo();
        }
      });
      if (draft.remark == null) {
        setTimeout(function () {
          input.focus();
          input.select();
        }, 0);
      } else {
        keepFocus(input);
      }
      return el("div", { className: "remark remark--editing" }, [input, el("small", { className: "muted", text: t("Enter saves, Esc cancels") })]);
    }
    return el("div", { className: "remark" }, [
      el("span", { className: "remark__value" + (v.real_name ? "" : " muted"), attrs: { id: "remark-value" }, text: v.real_name || t("No remark name") }),
      el("button", {
        className: "link-btn remark__edit",
        text: t("Edit"),
        attrs: { type: "button", id: "remark-edit", title: t("Give this visitor a name only your team sees") },
        on: {
          click: function () {
            editing = v.visitor_id;
            C.renderInfo();
          },
        },
      }),
    ]);
  }

  function saveRemark(v, value) {
    var vid = v.visitor_id;
    G.api("PATCH", "/api/v1/agent/visitors/" + encodeURIComponent(vid), { real_name: value }).then(function (res) {
      if (!res.ok) {
        C.showToast(refusal(res), "error");
        return;
      }
      editing = null;
      draftOf(vid).remark = null;
      var shown = C.visitors[vid];
      if (shown) {
        shown.real_name = res.data.real_name;
        changed(shown, "real_name");
      }
      C.renderInfo();
      C.renderChatHeader();
      C.scheduleList();
    });
  }

  function chip(tag, onRemove) {
    return el("span", { className: "tag-chip tag-chip--" + tag.colour, dataset: { tagId: tag.id } }, [
      el("span", { className: "tag-chip__name", text: tag.name }),
      onRemove
        ? el("button", {
            className: "tag-chip__remove",
            text: "×",
            attrs: { type: "button", "aria-label": t("Remove tag {name}", { name: tag.name }) },
            on: { click: onRemove },
          })
        : null,
    ]);
  }

  function tagVisitor(vid, method, tagId) {
    var url = "/api/v1/agent/visitors/" + encodeURIComponent(vid) + "/tags" + (method === "DELETE" ? "/" + tagId : "");
    return G.api(method, url, method === "DELETE" ? undefined : { tag_id: tagId }).then(function (res) {
      if (!res.ok) {
        C.showToast(refusal(res), "error");
        return;
      }
      var v = C.visitors[vid];
      if (v) {
        v.tags = res.data.tags;
        changed(v, "tags");
      }
      C.renderInfo();
    });
  }

  function addByName(v, name) {
    draftOf(v.visitor_id).tag = "";
    name = name.trim();
    if (!name) return;
    var found = tagList().filter(function (tag) {
      return tag.name.toLowerCase() === name.toLowerCase();
    })[0];
    if (found) {
      tagVisitor(v.visitor_id, "POST", found.id);
      return;
    }
    if (!admin) {
      C.showToast(t("No tag named “{name}”. An admin creates tags.", { name: name }), "error");
      return;
    }
    G.api("POST", "/api/v1/agent/tags", { name: name, colour: COLOURS[Object.keys(tags).length % COLOURS.length] }).then(function (res) {
      if (!res.ok) {
        C.showToast(refusal(res), "error");
        return;
      }
      tags[res.data.id] = res.data;
      changes++;
      tagVisitor(v.visitor_id, "POST", res.data.id);
    });
  }

  function tagsRow(v) {
    var mine = (v.tags || []).filter(function (id) {
      return tags[id];
    });
    var input = el("input", {
      className: "tag-add__input",
      attrs: { id: "tag-add-input", type: "text", maxlength: 30, list: "tag-names", placeholder: admin ? t("Add or create a tag…") : t("Add a tag…"), "aria-label": t("Add a tag") },
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") {
        e.preventDefault();
        addByName(v, input.value);
      } else if (e.key === "Escape") {
        input.value = "";
      }
    });
    var draft = draftOf(v.visitor_id);
    input.value = draft.tag;
    keepFocus(input);
    input.addEventListener("input", function (e) {
      draft.tag = input.value;
      // Picked from the list (not typed): add at once.
      if (e.inputType && e.inputType !== "insertReplacementText") return;
      if (tagList().some(function (tag) { return tag.name === input.value; })) addByName(v, input.value);
    });
    var datalist = el(
      "datalist",
      { attrs: { id: "tag-names" } },
      tagList()
        .filter(function (tag) {
          return mine.indexOf(tag.id) < 0;
        })
        .map(function (tag) {
          return el("option", { attrs: { value: tag.name } });
        })
    );
    return el("div", { className: "tags" }, [
      el(
        "div",
        { className: "tags__chips", attrs: { id: "visitor-tags" } },
        mine.map(function (id) {
          return chip(tags[id], function () {
            tagVisitor(v.visitor_id, "DELETE", id);
          });
        })
      ),
      el("div", { className: "tag-add" }, [input, datalist]),
      admin
        ? el("button", { className: "link-btn", text: t("Manage tags"), attrs: { type: "button", id: "tags-manage" }, on: { click: openDialog } })
        : null,
    ]);
  }

  C.infoExtras.push(function (v) {
    return el("section", { className: "info-section info-workspace" }, [
      el("h3", { text: t("Remark name") }),
      remarkRow(v),
      el("h3", { text: t("Tags") }),
      tagsRow(v),
    ]);
  });

  // --- live events ---------------------------------------------------------------------------

  function wrap(type, fn) {
    var before = C.handlers[type];
    C.handlers[type] = function (data) {
      if (before) before(data);
      fn(data);
    };
  }
  wrap("visitor.remark", function (data) {
    var v = C.visitors[data.visitor_id];
    if (!v) return;
    v.real_name = data.real_name;
    changed(v, "real_name");
    C.scheduleList();
    if (state.selected === data.visitor_id) {
      C.renderChatHeader();
      if (editing !== data.visitor_id) C.renderInfo();
    }
  });
  wrap("visitor.tags", function (data) {
    var v = C.visitors[data.visitor_id];
    if (v) {
      v.tags = data.tags;
      changed(v, "tags");
    }
    if (state.selected === data.visitor_id && editing !== data.visitor_id) C.renderInfo();
    if (filter.value) runSearch();
  });
  wrap("tag.saved", function (data) {
    tags[data.tag.id] = data.tag;
    refreshAll();
  });
  wrap("tag.deleted", function (data) {
    delete tags[data.id];
    Object.keys(C.visitors).forEach(function (vid) {
      var v = C.visitors[vid];
      if (v.tags) v.tags = v.tags.filter(function (id) { return id !== data.id; });
    });
    if (filter.value === String(data.id)) filter.value = "";
    refreshAll();
    runSearch();
  });
  // After a reconnect the tags may have changed unheard of.
  wrap("ready", function () {
    loadTags();
  });

  // --- search and the tag filter ------------------------------------------------------------

  var search = document.getElementById("visitor-search");
  var filter = el("select", { className: "tag-filter", attrs: { id: "tag-filter", "aria-label": t("Filter by tag") } });
  function renderFilter() {
    var chosen = filter.value;
    filter.replaceChildren.apply(
      filter,
      [el("option", { text: t("All tags"), attrs: { value: "" } })].concat(
        tagList().map(function (tag) {
          return el("option", { text: tag.name, attrs: { value: String(tag.id) } });
        })
      )
    );
    filter.value = tags[chosen] ? chosen : "";
    filter.hidden = !tagList().length && !chosen;
  }
  if (search && search.parentNode) search.parentNode.appendChild(filter);
  if (search) search.placeholder = t("Search name, remark, tag, IP, message…");

  var timer = null;
  var asked = 0;
  function runSearch() {
    var q = search ? search.value.trim() : "";
    var tag = filter.value;
    if (!q && !tag) {
      state.searchHits = null;
      C.scheduleList();
      return;
    }
    var mine = ++asked;
    var url = "/api/v1/agent/search?q=" + encodeURIComponent(q) + (tag ? "&tag=" + encodeURIComponent(tag) : "");
    G.api("GET", url).then(function (res) {
      if (mine !== asked) return; // a newer search is on its way
      if (!res.ok || !res.data) {
        state.searchHits = null; // the local filter still works
        C.scheduleList();
        return;
      }
      var hits = {};
      res.data.visitors.forEach(function (summary) {
        var v = C.upsertVisitor(summary);
        v.searchMatch = summary.match;
        hits[summary.visitor_id] = true;
      });
      state.searchHits = hits;
      C.scheduleList();
    });
  }
  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(runSearch, 300);
    });
  }
  filter.addEventListener("change", runSearch);

  // --- composer: note mode ------------------------------------------------------------------

  var input = document.getElementById("composer-input");
  var composerNode = input && input.closest(".composer");
  var tools = composerNode && composerNode.querySelector(".composer__tools");
  var replyHint = input ? input.placeholder : "";
  var noteToggle = el("button", {
    className: "btn composer__note",
    text: t("Note"),
    attrs: { type: "button", id: "composer-note", "aria-pressed": "false", title: t("Internal note: only your colleagues see it") },
    on: {
      click: function () {
        setNoteMode(!state.noteMode);
        if (input) input.focus();
      },
    },
  });
  function setNoteMode(on) {
    state.noteMode = !!on;
    noteToggle.setAttribute("aria-pressed", on ? "true" : "false");
    if (composerNode) composerNode.classList.toggle("composer--note", !!on);
    if (input) input.placeholder = on ? t("Internal note: only your colleagues see it") : replyHint;
  }
  if (tools) tools.insertBefore(noteToggle, tools.firstChild);

  // --- tag management (admins) ------------------------------------------------------------

  // The dialog's frame and its new-tag form are in templates/chat/_workspace.html: what is typed there
  // survives the redraws of the list that every tag change brings.
  var dialog = document.getElementById("tags-dialog");
  var dialogList = document.getElementById("tags-dialog-list");
  var newForm = document.getElementById("tags-new");
  var newName = document.getElementById("tags-new-name");
  var newColour = document.getElementById("tags-new-colour");
  function colourSelect(value) {
    var select = el(
      "select",
      { className: "dialog__input tags-dialog__colour", attrs: { "aria-label": t("Colour") } },
      COLOURS.map(function (c) {
        return el("option", { text: t(c), attrs: { value: c } });
      })
    );
    select.value = value;
    return select;
  }
  function renderDialog() {
    var rows = tagList().map(function (tag) {
      var name = el("input", { className: "dialog__input tags-dialog__name", attrs: { type: "text", maxlength: 30, "aria-label": t("Name") } });
      name.value = tag.name;
      var colour = colourSelect(tag.colour);
      return el("li", { className: "tags-dialog__row", dataset: { tagId: tag.id } }, [
        el("span", { className: "tag-chip tag-chip--" + tag.colour, text: " " }),
        name,
        colour,
        el("button", {
          className: "btn btn--sm",
          text: t("Save"),
          attrs: { type: "button" },
          on: {
            click: function () {
              G.api("PATCH", "/api/v1/agent/tags/" + tag.id, { name: name.value, colour: colour.value }).then(answered);
            },
          },
        }),
        el("button", {
          className: "btn btn--sm btn--danger",
          text: t("Delete"),
          attrs: { type: "button" },
          on: {
            click: function () {
              if (!window.confirm(t("Delete the tag “{name}” from every visitor?", { name: tag.name }))) return;
              G.api("DELETE", "/api/v1/agent/tags/" + tag.id).then(function (res) {
                if (!res.ok) C.showToast(refusal(res), "error");
                else {
                  delete tags[tag.id];
                  refreshAll();
                }
              });
            },
          },
        }),
      ]);
    });
    dialogList.replaceChildren.apply(dialogList, rows.length ? rows : [el("li", { className: "muted", text: t("No tags yet.") })]);
  }
  newForm.addEventListener("submit", function (e) {
    e.preventDefault();
    G.api("POST", "/api/v1/agent/tags", { name: newName.value, colour: newColour.value }).then(function (res) {
      if (res.ok) newName.value = "";
      answered(res);
    });
  });
  document.getElementById("tags-dialog-close").addEventListener("click", function () {
    dialog.close();
  });
  function answered(res) {
    if (!res.ok) {
      C.showToast(refusal(res), "error");
      return;
    }
    tags[res.data.id] = res.data;
    refreshAll();
  }
  function openDialog() {
    renderDialog();
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }

  window.GoFlyWorkspace = { tags: tags, runSearch: runSearch, setNoteMode: setNoteMode, loadTags: loadTags };
  loadTags();
})();
