/* Fireline: keyboard shortcuts and small form helpers. No inline scripts (strict CSP). */
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function focusField(id) {
    var el = document.getElementById(id);
    if (!el) return false;
    var details = el.closest("details");
    if (details) details.open = true;
    el.focus();
    el.scrollIntoView({ block: "center" });
    return true;
  }

  var pendingG = false;

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    // Ctrl/Cmd+Enter posts the form being written in.
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA") {
      if (target.form) {
        event.preventDefault();
        target.form.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape" && typing(target)) {
      target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target)) return;
    var dialog = document.getElementById("shortcuts");
    if (dialog && dialog.open) return;

    if (pendingG) {
      pendingG = false;
      if (event.key === "i") {
        window.location.href = "/incidents";
        event.preventDefault();
      }
      return;
    }
    switch (event.key) {
      case "n": {
        var declare = document.querySelector(".btn-declare");
        if (declare) {
          event.preventDefault();
          window.location.href = declare.getAttribute("href");
        }
        break;
      }
      case "/": {
        if (focusField("q")) event.preventDefault();
        break;
      }
      case "a": {
        var ack = document.querySelector('[data-shortcut="a"]');
        if (ack) {
          event.preventDefault();
          ack.click();
        }
        break;
      }
      case "t": {
        if (focusField("note-body")) event.preventDefault();
        break;
      }
      case "e": {
        if (focusField("edit-title")) event.preventDefault();
        break;
      }
      case "g": {
        pendingG = true;
        window.setTimeout(function () { pendingG = false; }, 1500);
        break;
      }
      case "?": {
        if (dialog) {
          event.preventDefault();
          dialog.showModal();
        }
        break;
      }
    }
  });

  // Coming back to the tab refreshes the list and timeline at once, not in up to 10 s.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && window.htmx) {
      window.htmx.trigger(document.body, "fireline:refresh");
    }
  });

  // Filter selects apply at once.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  // HTMX forms that add to the timeline: clear them (and old errors) after success.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || !form.matches || !form.matches("form[data-reset-on-success]")) return;
    if (event.detail.successful && event.detail.xhr.status < 300) {
      form.reset();
      form.querySelectorAll(".form-error").forEach(function (el) { el.remove(); });
    }
  });
})();
