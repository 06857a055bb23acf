/* Small behaviours of the pages (no framework): modal dialogs and print buttons. */
(function () {
  "use strict";
  function openDialog(dialog) {
    if (!dialog.open) dialog.showModal();
    var first = dialog.querySelector("[autofocus]") ||
      dialog.querySelector("input:not([type=hidden]), textarea, select, button");
    if (first) first.focus();
  }
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog) { event.preventDefault(); dialog.returnFocusTo = opener; openDialog(dialog); }
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { event.preventDefault(); closer.closest("dialog").close(); }
    if (event.target.closest("[data-print]")) { event.preventDefault(); window.print(); }
  });
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog.returnFocusTo) dialog.returnFocusTo.focus();
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[data-open-on-load]").forEach(openDialog);
  });
})();
