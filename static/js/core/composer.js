/* GoFly chat core: Composer (Enter sends, IME-safe, auto-growing, typing hints) and the emoji picker. */
(function (global) {
  "use strict";

  var G = global.GoFly;
  var el = G.el, t = G.t;

  // ---------------------------------------------------------------------------------------------
  // Emoji picker: unicode only, no images
  // ---------------------------------------------------------------------------------------------

  var EMOJI = [
    ["Smileys", "😀 😃 😄 😁 😆 😅 🤣 😂 🙂 😉 😊 😇 🥰 😍 🤩 😘 😋 😛 😜 🤪 🤗 🤭 🤔 🤐 😐 😑 😶 😏 😒 🙄 😬 😌 😔 😪 😴 😷 🤒 🤕 🥵 🥶 😵 🤯 🥳 😎 🤓 🧐 😕 😟 🙁 😮 😯 😲 😳 🥺 😦 😧 😨 😰 😥 😢 😭 😱 😖 😣 😞 😓 😩 😫 🥱 😤 😡 😠"],
    ["Gestures", "👍 👎 👌 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ ✋ 🤚 🖐️ 🖖 👋 👏 🙌 👐 🤲 🤝 🙏 ✍️ 💪 🙇 🙋 🤷 🤦"],
    ["Symbols", "❤️ 🧡 💛 💚 💙 💜 🖤 🤍 💔 💯 💢 💥 💫 💦 💨 💬 💭 🔥 ✨ ⭐ 🌟 🎉 🎊 🎁 🏆 ✅ ❌ ❓ ❗ ⚠️ ⏰ 📦 🛒 💰 💳 📞 📱 💻 📧 📍 🚚 ☕ 🍵 🌹 🌈 ☀️ 🌙"],
  ];

  /** Toggles a popover grid under `button`; picking inserts the emoji at the textarea's caret. */
  function EmojiPicker(button, textarea, onPick) {
    var panel = el("div", { className: "emoji-panel", attrs: { role: "dialog", "aria-label": t("Emoji"), hidden: true } });
    EMOJI.forEach(function (group) {
      panel.appendChild(el("div", { className: "emoji-panel__title", text: t(group[0]) }));
      var grid = el("div", { className: "emoji-panel__grid" });
      group[1].split(" ").forEach(function (emoji) {
        grid.appendChild(
          el("button", {
            className: "emoji-panel__item",
            text: emoji,
            attrs: { type: "button", title: emoji, "aria-label": emoji },
            on: {
              click: function () {
                insertAtCaret(textarea, emoji);
                if (onPick) onPick(emoji);
              },
            },
          })
        );
      });
      panel.appendChild(grid);
    });
    button.parentNode.appendChild(panel);
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
    }
    button.addEventListener("click", function (e) {
      e.stopPropagation();
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
    });
    document.addEventListener("click", function (e) {
      if (!panel.hidden && !panel.contains(e.target) && e.target !== button) close();
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !panel.hidden) {
        close();
        textarea.focus();
      }
    });
    return { close: close, panel: panel };
  }

  function insertAtCaret(textarea, text) {
    var start = textarea.selectionStart != null ? textarea.selectionStart : textarea.value.length;
    var end = textarea.selectionEnd != null ? textarea.selectionEnd : start;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    var pos = start + text.length;
    textarea.focus();
    try {
      textarea.setSelectionRange(pos, pos);
    } catch (e) {
      /* ignore */
    }
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // ---------------------------------------------------------------------------------------------
  // Composer: Enter sends, Shift+Enter newline, IME-safe, auto-growing, throttled typing hints
  // ---------------------------------------------------------------------------------------------

  /** opts: onSend(text) -> bool (false keeps the text), onTyping(draft), maxLength, and onTooLong(length)
   *  (by default the text box itself says the message is too long, for 2 s). */
  function Composer(textarea, sendButton, opts) {
    this.textarea = textarea;
    var lastTyping = 0, trailing = null;
    function typing() {
      if (!opts.onTyping) return;
      var now = Date.now();
      clearTimeout(trailing);
      if (now - lastTyping >= 1000) {
        lastTyping = now;
        opts.onTyping(textarea.value);
      } else {
        // The last keystroke is always reported, so the other side's preview ends on the real draft.
        trailing = setTimeout(function () {
          lastTyping = Date.now();
          opts.onTyping(textarea.value);
        }, 1000 - (now - lastTyping));
      }
    }
    function grow() {
      textarea.style.height = "auto";
      textarea.style.height = Math.min(textarea.scrollHeight, 160) + "px";
      sendButton.disabled = !textarea.value.trim();
    }
    function tooLong() {
      textarea.setCustomValidity(t("Message is too long."));
      textarea.reportValidity();
      setTimeout(function () {
        textarea.setCustomValidity("");
      }, 2000);
    }
    function send() {
      var text = textarea.value.trim();
      if (!text) return;
      if (opts.maxLength && text.length > opts.maxLength) {
        if (opts.onTooLong) opts.onTooLong(text.length);
        else tooLong();
        return;
      }
      if (opts.onSend(text) === false) return;
      textarea.value = "";
      clearTimeout(trailing);
      grow();
      textarea.focus();
    }
    textarea.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || e.keyCode === 229) return; // Enter that confirms a Chinese IME candidate
      e.preventDefault();
      send();
    });
    textarea.addEventListener("input", function () {
      grow();
      typing();
    });
    sendButton.addEventListener("click", send);
    this.send = send;
    this.grow = grow;
    grow();
  }

  Object.assign(G, {
    EmojiPicker: EmojiPicker,
    Composer: Composer,
  });
})(window);
