// Feedback for people: busy states while a request is out, dismissible flashes that fade,
// and the phone menu. Everything here is an enhancement: without JavaScript the pages work
// the same (flashes simply stay, the menu stays open).
(function () {
  document.documentElement.classList.add("js");

  // --- busy states: the control that started a request says so until the answer is in ----
  function busy(button, on) {
    if (!button || button.tagName !== "BUTTON") return;
    if (on) {
      button.setAttribute("aria-busy", "true");
      button.classList.add("is-busy");
      var label = button.getAttribute("data-busy-label");
      if (label && !button.hasAttribute("data-idle-label")) {
        button.setAttribute("data-idle-label", button.textContent);
        button.textContent = label;
      }
    } else {
      button.removeAttribute("aria-busy");
      button.classList.remove("is-busy");
      if (button.hasAttribute("data-idle-label")) {
        button.textContent = button.getAttribute("data-idle-label");
        button.removeAttribute("data-idle-label");
      }
    }
  }

  function source(event) {
    var trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (trigger && trigger.submitter) return trigger.submitter;
    return event.detail.elt;
  }

  // the region being replaced is marked busy too, for screen readers
  document.addEventListener("htmx:beforeRequest", function (event) {
    busy(source(event), true);
    if (event.detail.target) event.detail.target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    busy(source(event), false);
    if (event.detail.target) event.detail.target.removeAttribute("aria-busy");
  });
  // plain form posts (a full page load follows): show the busy label until the page goes
  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented || event.target.hasAttribute("hx-post") || event.target.hasAttribute("hx-get")) return;
    busy(event.submitter, true);
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return; // back to a page from the cache: nothing is out any more
    document.querySelectorAll("button.is-busy").forEach(function (b) { busy(b, false); });
  });

  // --- flashes: a close button on each; success notes fade away on their own -------------
  var FADE_AFTER_MS = 8000;
  function dismiss(flash) {
    flash.classList.add("leaving");
    window.setTimeout(function () { flash.remove(); }, 300);
  }
  function enhance(root) {
    root.querySelectorAll(".flash:not([data-enhanced]):not(#htmx-error)").forEach(function (flash) {
      flash.setAttribute("data-enhanced", "");
      var close = document.createElement("button");
      close.type = "button";
      close.className = "flash-close";
      close.setAttribute("aria-label", "Dismiss this message");
      // the × is drawn by CSS, so the message's text stays the message alone
      close.addEventListener("click", function () { dismiss(flash); });
      flash.appendChild(close);
      if (flash.classList.contains("success")) {
        var timer = window.setTimeout(function () { dismiss(flash); }, FADE_AFTER_MS);
        // reading it (hover, focus) keeps it
        flash.addEventListener("mouseenter", function () { window.clearTimeout(timer); });
        flash.addEventListener("focusin", function () { window.clearTimeout(timer); });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });

  // --- results that arrive by htmx (an import plan, its outcome): move focus to them ---------
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var swapped = target && target.isConnected ? target : document.getElementById(target && target.id);
    if (!swapped || !swapped.hasAttribute("data-focus-on-swap")) return;
    swapped.focus({ preventScroll: true });
    swapped.scrollIntoView({ block: "start", behavior: "auto" });
  });

  // --- phone menu: the main navigation folds behind a button on narrow screens ------------
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest(".nav-toggle");
    if (!toggle) return;
    var header = toggle.closest("header");
    var open = header.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
