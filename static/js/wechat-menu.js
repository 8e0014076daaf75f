/* The custom menu page of the management area (templates/wechat/manage/menu.html): a builder that edits the
   menu's JSON in the form's text area (the form posts that text; without this script it is the editor), a
   preview of the phone's menu bar for each [data-menu-preview], and the delete button's confirmation. */
(function () {
  "use strict";
  var configNode = document.getElementById("wechat-menu-limits");
  var config = configNode ? JSON.parse(configNode.textContent) : null;
  var words = (config && config.strings) || {};
  var FIELDS = { view: ["url"], miniprogram: ["url", "appid", "pagepath"] };
  var LIMITS = config ? { key: config.keyBytes, url: config.urlBytes, appid: 32, pagepath: config.urlBytes } : {};

  function bytes(text) {
    return new TextEncoder().encode(text || "").length;
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }
  function fieldsOf(type) {
    return FIELDS[type] || ["key"];
  }
  function parse(text) {
    try {
      var value = JSON.parse(text || '{"button": []}');
      if (value && !value.button && value.menu) value = value.menu;
      if (value && Array.isArray(value.button)) return value;
    } catch (ignored) {
      /* shown as "not a menu" */
    }
    return null;
  }

  /* --- the preview ------------------------------------------------------------------------------------ */
  function preview(box, menu) {
    var bar = box.querySelector(".wechat-phone__bar");
    var screen = box.querySelector(".wechat-phone__screen");
    bar.textContent = "";
    screen.textContent = "";
    if (!menu) {
      bar.appendChild(el("span", { class: "wechat-phone__note", text: words.invalid || "" }));
      return;
    }
    if (!menu.button.length) {
      bar.appendChild(el("span", { class: "wechat-phone__note", text: words.empty || "" }));
      return;
    }
    menu.button.forEach(function (button) {
      var subs = Array.isArray(button.sub_button) ? button.sub_button : [];
      var item = el("button", { type: "button", class: "wechat-phone__item", text: button.name || "…" });
      if (subs.length) {
        item.classList.add("wechat-phone__item--menu");
        var list = el("ul", { class: "wechat-phone__subs", hidden: "" });
        subs.forEach(function (sub) {
          list.appendChild(el("li", { text: sub.name || "…", title: sub.url || sub.key || "" }));
        });
        item.addEventListener("click", function () {
          var open = list.hidden;
          box.querySelectorAll(".wechat-phone__subs").forEach(function (other) {
            other.hidden = true;
          });
          list.hidden = !open;
        });
        var cell = el("div", { class: "wechat-phone__cell" }, [list, item]);
        bar.appendChild(cell);
      } else {
        item.title = button.url || button.key || "";
        bar.appendChild(el("div", { class: "wechat-phone__cell" }, [item]));
      }
    });
  }
  function previews() {
    document.querySelectorAll("[data-menu-preview]").forEach(function (box) {
      var source = document.getElementById(box.getAttribute("data-menu-preview"));
      if (source) preview(box, parse("value" in source ? source.value : source.textContent));
    });
  }

  /* --- the builder ------------------------------------------------------------------------------------ */
  var area = document.getElementById("wechat-menu-json");
  var builder = document.getElementById("wechat-menu-builder");
  var builderError = document.getElementById("wechat-menu-builder-error");
  var menu = null;

  function write() {
    area.value = JSON.stringify(menu, null, 2);
    previews();
  }
  function counter(input, limit) {
    var note = el("span", { class: "wechat-menu__bytes" });
    function update() {
      var used = bytes(input.value);
      note.textContent = (words.bytes || "%(used)s / %(limit)s").replace("%(used)s", used).replace("%(limit)s", limit);
      note.classList.toggle("wechat-menu__bytes--over", used > limit);
    }
    input.addEventListener("input", update);
    update();
    return note;
  }
  function textField(button, name, label, limit) {
    var input = el("input", { type: "text", value: button[name] || "", "data-field": name });
    input.addEventListener("input", function () {
      button[name] = input.value;
      write();
    });
    return el("label", { class: "wechat-menu__field" }, [el("span", { text: label }), input, counter(input, limit)]);
  }
  function typeSelect(button, allowSubmenu) {
    var select = el("select", { "data-field": "type" });
    if (allowSubmenu) select.appendChild(el("option", { value: "", text: words.submenu || "sub-menu" }));
    config.types.forEach(function (type) {
      select.appendChild(el("option", { value: type, text: (words.types && words.types[type]) || type }));
    });
    var current = Array.isArray(button.sub_button) && button.sub_button.length ? "" : button.type || "click";
    if (!allowSubmenu && !current) current = "click";
    select.value = current;
    if (select.value !== current) select.appendChild(el("option", { value: current, text: current, selected: "" }));
    select.addEventListener("change", function () {
      var type = select.value;
      ["type", "key", "url", "appid", "pagepath", "sub_button"].forEach(function (name) {
        if (name !== "sub_button" || type) delete button[name];
      });
      if (type) button.type = type;
      else button.sub_button = button.sub_button && button.sub_button.length ? button.sub_button : [{ type: "click", name: "", key: "" }];
      write();
      build();
    });
    return el("label", { class: "wechat-menu__field" }, [el("span", { text: words.type || "" }), select]);
  }
  function tools(list, index, minimum) {
    function move(step) {
      var item = list.splice(index, 1)[0];
      list.splice(index + step, 0, item);
      write();
      build();
    }
    var up = el("button", { type: "button", class: "button", text: "↑", title: words.up || "" });
    var down = el("button", { type: "button", class: "button", text: "↓", title: words.down || "" });
    var remove = el("button", { type: "button", class: "button", text: words.remove || "×" });
    up.disabled = index === 0;
    down.disabled = index === list.length - 1;
    remove.disabled = list.length <= minimum;
    up.addEventListener("click", function () { move(-1); });
    down.addEventListener("click", function () { move(1); });
    remove.addEventListener("click", function () {
      list.splice(index, 1);
      write();
      build();
    });
    return el("span", { class: "wechat-menu__tools" }, [up, down, remove]);
  }
  function actionFields(button, box) {
    if (!button.type) return;
    fieldsOf(button.type).forEach(function (name) {
      box.appendChild(textField(button, name, words[name] || name, LIMITS[name]));
    });
  }
  function buttonBox(button, index) {
    var subs = Array.isArray(button.sub_button) && button.sub_button.length ? button.sub_button : null;
    var box = el("fieldset", { class: "wechat-menu__button", "data-button": String(index) }, [
      el("legend", { text: (words.button || "%s").replace("%s", index + 1) }),
      tools(menu.button, index, 0),
      textField(button, "name", words.name || "", config.nameBytes),
      typeSelect(button, true),
    ]);
    if (!subs) {
      actionFields(button, box);
      return box;
    }
    subs.forEach(function (sub, subIndex) {
      var subBox = el("fieldset", { class: "wechat-menu__sub" }, [
        el("legend", { text: (words.sub || "%s").replace("%s", subIndex + 1) }),
        tools(subs, subIndex, 1),
        textField(sub, "name", words.name || "", config.subNameBytes),
        typeSelect(sub, false),
      ]);
      actionFields(sub, subBox);
      box.appendChild(subBox);
    });
    if (subs.length < config.subButtons) {
      var add = el("button", { type: "button", class: "button", text: words.addSub || "+" });
      add.addEventListener("click", function () {
        subs.push({ type: "click", name: "", key: "" });
        write();
        build();
      });
      box.appendChild(add);
    }
    return box;
  }
  function build() {
    builder.textContent = "";
    menu.button.forEach(function (button, index) {
      builder.appendChild(buttonBox(button, index));
    });
    if (menu.button.length < config.buttons) {
      var add = el("button", { type: "button", class: "button", id: "wechat-menu-add", text: words.addButton || "+" });
      add.addEventListener("click", function () {
        menu.button.push({ type: "click", name: "", key: "" });
        write();
        build();
      });
      builder.appendChild(add);
    }
  }
  function load() {
    menu = parse(area.value);
    var usable = menu && menu.button.every(function (button) {
      return button && typeof button === "object";
    });
    builder.hidden = !usable;
    if (builderError) builderError.hidden = !!usable;
    if (usable) build();
    previews();
  }
  if (area && builder && config) {
    area.addEventListener("input", previews);
    area.addEventListener("change", load);
    load();
  } else {
    previews();
  }

  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
