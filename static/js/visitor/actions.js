/* GoFly visitor page, part 7: ending the chat, leaving a message, sending the product, the composer. */
(function (V, G) {
  "use strict";

  var t = G.t;
  var cfg = V.cfg;
  var dom = V.dom;
  var state = V.state;

  // --- ending the conversation -----------------------------------------------------------------------

  var CLOSE_ANSWER_TIMEOUT = 8000;
  var returnFocus = null;

  function openConfirm() {
    if (state.dead || !V.live(state.conversation)) return;
    returnFocus = document.activeElement;
    dom.endConfirm.hidden = false;
    dom.endOk.focus();
  }
  /** Hide the dialog; `restore` gives the focus back to where it was (cancelling). */
  V.closeConfirm = function (restore) {
    if (dom.endConfirm.hidden) return;
    dom.endConfirm.hidden = true;
    if (restore && returnFocus && returnFocus.focus) returnFocus.focus();
    returnFocus = null;
  };

  V.endChat = function () {
    V.closeConfirm(false);
    if (state.closing || !V.live(state.conversation)) return;
    var ref = "close-" + G.uuid();
    state.closing = { ref: ref, timer: null };
    dom.endError.hidden = true;
    V.renderHeader();
    if (V.socket.send("conversation.close", { ref: ref })) {
      // No answer in time (the socket died on the way): HTTP closes it, or finds it closed.
      state.closing.timer = setTimeout(function () {
        V.closeOverHTTP(ref);
      }, CLOSE_ANSWER_TIMEOUT);
    } else {
      V.closeOverHTTP(ref);
    }
  };

  V.closeOverHTTP = function (ref) {
    if (!state.closing || state.closing.ref !== ref) return;
    clearTimeout(state.closing.timer);
    G.api("POST", "/api/v1/visitor/conversation/close", undefined, V.authHeaders()).then(function (res) {
      if (!state.closing || state.closing.ref !== ref) return; // the socket answered meanwhile
      if (res.ok && res.data) {
        V.closeDone(res.data.conversation || null);
      } else if (res.status === 401) {
        clearTimeout(state.closing.timer);
        state.closing = null;
        V.sessionExpired();
      } else {
        V.closeFailed();
      }
    });
  };

  V.closeDone = function (conversation) {
    if (state.closing) clearTimeout(state.closing.timer);
    state.closing = null;
    // null: nothing was open any more (the agent closed it a moment earlier).
    if (conversation) V.setConversation(conversation);
    else if (V.live(state.conversation)) V.setConversation(null);
    else V.renderHeader();
  };

  var endErrorTimer = null;
  V.closeFailed = function () {
    if (state.closing) clearTimeout(state.closing.timer);
    state.closing = null;
    V.renderHeader();
    dom.endErrorText.textContent = t("Could not end the chat. Try again.");
    dom.endError.hidden = false;
    clearTimeout(endErrorTimer);
    endErrorTimer = setTimeout(function () {
      dom.endError.hidden = true;
    }, 6000);
  };

  dom.endChat.addEventListener("click", openConfirm);
  dom.endCancel.addEventListener("click", function () {
    V.closeConfirm(true);
  });
  dom.endOk.addEventListener("click", V.endChat);
  dom.endConfirm.addEventListener("click", function (e) {
    if (e.target === dom.endConfirm) V.closeConfirm(true); // a tap beside the box
  });
  dom.endConfirm.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      V.closeConfirm(true);
    } else if (e.key === "Tab") {
      // Keep the focus in the dialog: it has two buttons.
      e.preventDefault();
      (document.activeElement === dom.endOk ? dom.endCancel : dom.endOk).focus();
    }
  });

  // --- leave a message (nobody online) -----------------------------------------------------------------

  function leaveDone() {
    state.leaving = false;
    dom.leaveSubmit.disabled = false;
    dom.leaveSubmit.textContent = dom.leaveSubmit.dataset.label;
  }

  function leaveMessage(e) {
    if (e) e.preventDefault();
    if (state.leaving) return;
    state.leaving = true;
    dom.leaveError.hidden = true;
    dom.leaveSubmit.disabled = true;
    dom.leaveSubmit.dataset.label = dom.leaveSubmit.dataset.label || dom.leaveSubmit.textContent;
    dom.leaveSubmit.textContent = t("Sending…");
    var body = { name: dom.leaveName.value, contact: dom.leaveContact.value, content: dom.leaveContent.value };
    G.api("POST", "/api/v1/visitor/leave-message", body, V.authHeaders()).then(function (res) {
      if (res.status === 401) {
        leaveDone();
        return V.sessionExpired();
      }
      if (!res.ok || !res.data || !res.data.message) return leaveFailed(res);
      leaveDone();
      state.left = true;
      dom.leaveContent.value = "";
      V.mergeServer(res.data.message);
      V.view.render({ stick: true });
      V.renderHeader();
    });
  }

  function leaveFailed(res) {
    leaveDone();
    var code = res.data && res.data.error && res.data.error.code;
    dom.leaveError.textContent = G.errorText(res, "leave");
    dom.leaveError.hidden = false;
    var field = code === "bad_contact" ? dom.leaveContact : code === "bad_name" ? dom.leaveName : dom.leaveContent;
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }

  dom.leave.addEventListener("submit", leaveMessage);
  dom.leave.addEventListener("input", function (e) {
    if (e.target.removeAttribute) e.target.removeAttribute("aria-invalid");
  });

  // --- the product the visitor looks at: pinned above the composer until sent ---------------------------

  var PINS_KEY = "gofly.products.done." + cfg.ent_id; // products sent or dismissed, so a reload does not pin them again
  var pinShown = "";

  function productText(product) {
    return "product[" + JSON.stringify({ title: product.title, price: product.price, img: product.img, url: product.url }) + "]";
  }
  function productDone(text) {
    var done = G.store.getJSON(PINS_KEY, []);
    if (Array.isArray(done) && done.indexOf(text) >= 0) return true;
    // Or already in the thread (sent from another tab or device).
    return V.thread().records.some(function (rec) {
      return rec.sender === "visitor" && rec.content === text;
    });
  }
  function markProductDone(text) {
    var done = G.store.getJSON(PINS_KEY, []);
    done = (Array.isArray(done) ? done : []).filter(function (other) {
      return other !== text;
    });
    done.push(text);
    G.store.setJSON(PINS_KEY, done.slice(-20));
  }

  V.renderPin = function () {
    var text = state.product ? productText(state.product) : "";
    var show = !!text && !state.dead && !state.expired && !productDone(text);
    dom.pin.hidden = !show;
    if (!show || pinShown === text) return;
    pinShown = text;
    dom.pinCard.replaceChildren();
    G.renderContent(text, dom.pinCard);
  };

  dom.pinSend.addEventListener("click", function () {
    if (!state.product) return;
    var text = productText(state.product);
    if (V.send(text)) markProductDone(text);
    V.renderPin();
  });
  dom.pinDismiss.addEventListener("click", function () {
    if (state.product) markProductDone(productText(state.product));
    V.renderPin();
  });

  // --- composer ----------------------------------------------------------------------------------------

  new G.Composer(dom.input, dom.send, {
    maxLength: cfg.max_length || 5000,
    onSend: V.send,
    onTyping: function (draft) {
      V.socket.send("typing", { content: draft.slice(0, 200) });
    },
  });
  G.EmojiPicker(dom.emoji, dom.input);
  G.composerFiles(dom.app, dom.input, V.sendFiles);
})(window.GoFlyVisitor, window.GoFly);
