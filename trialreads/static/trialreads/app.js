/* Small behaviours of the pages (no framework): modal dialogs, print buttons, the save button
   of a read form section. */
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
  // The live check replaces only the error slots (out of band, so typing is never
  // interrupted); keep each input's aria-invalid in step with its slot.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("span.err[id^='err-']").forEach(function (slot) {
      var input = document.getElementById(slot.id.slice(4));
      if (!input || input.type === "checkbox") return;
      if (slot.textContent.trim()) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  });
  // One form with two save buttons (a PET/CT timepoint's CT assessment and PET scan, saved
  // apart): Enter in a field saves the section the field is in, where the browser's implicit
  // submission would use the first button ("Save draft") whatever the field.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.defaultPrevented) return;
    var field = event.target;
    if (!field.matches || !field.matches("input:not([type=checkbox]):not([type=hidden])")) return;
    var section = field.closest("[data-save-button]");
    var button = section && document.getElementById(section.getAttribute("data-save-button"));
    if (!button || !field.form || typeof field.form.requestSubmit !== "function") return;
    event.preventDefault();
    field.form.requestSubmit(button);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[data-open-on-load]").forEach(openDialog);
  });
})();
