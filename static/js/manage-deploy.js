/* The deploy page of the management area: copy buttons and the live preview (loaded on request, since
   opening the chat makes a visitor). */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) return;
      var text = source.textContent;
      var done = function () {
        button.dataset.copied = "1";
        button.classList.add("deploy__copied");
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done);
      else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        if (document.execCommand("copy")) done();
      }
    });
  });
  var open = document.getElementById("deploy-preview-open");
  var frame = document.getElementById("deploy-preview");
  if (open && frame) {
    open.addEventListener("click", function () {
      frame.src = open.getAttribute("data-src");
      frame.hidden = false;
    });
  }
})();
