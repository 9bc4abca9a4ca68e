// Small glue only: surface htmx request errors that are not swapped (see base.html config).
document.addEventListener("htmx:responseError", function (event) {
  var box = document.getElementById("htmx-error");
  if (!box) return;
  var xhr = event.detail.xhr;
  var text = "Request failed (" + xhr.status + ").";
  try {
    var problem = JSON.parse(xhr.responseText);
    if (problem && problem.detail) text = problem.detail;
  } catch (e) {
    if (xhr.status === 403) text = "You are not allowed to do that.";
  }
  box.textContent = text;
  box.hidden = false;
});
document.addEventListener("htmx:beforeRequest", function () {
  var box = document.getElementById("htmx-error");
  if (box) box.hidden = true;
});
// Confirmation dialogs come from hx-confirm / a plain confirm page; nothing else here.

// Inline validation (profile editor): a section posts the form on `change` and gets itself
// back with its errors. Replacing the section would throw away what the user did while the
// request was out: text typed into the next field, keyboard focus on a button (buttons have no
// id to restore it by), a click whose mousedown landed on the old button (the click was lost).
// So the answer is merged instead: only error messages and the invalid marks (class,
// aria-invalid, aria-describedby) are copied; controls and their current values stay. When the
// structures differ (should not happen), the section is replaced as htmx would.
(function () {
  var MARKS = ["class", "aria-invalid", "aria-describedby"];

  function isMessage(el) {
    return el.tagName === "P" && el.classList.contains("error");
  }

  function kept(parent) {
    return Array.prototype.filter.call(parent.children, function (el) { return !isMessage(el); });
  }

  function sameShape(a, b) {
    if (a.tagName !== b.tagName) return false;
    var ak = kept(a), bk = kept(b);
    if (ak.length !== bk.length) return false;
    for (var i = 0; i < ak.length; i++) if (!sameShape(ak[i], bk[i])) return false;
    return true;
  }

  function merge(a, b) {
    MARKS.forEach(function (name) {
      if (b.hasAttribute(name)) a.setAttribute(name, b.getAttribute(name));
      else a.removeAttribute(name);
    });
    Array.prototype.filter.call(a.children, isMessage).forEach(function (el) { el.remove(); });
    var ak = kept(a), j = 0;
    Array.prototype.forEach.call(b.children, function (el) {
      if (isMessage(el)) a.insertBefore(el.cloneNode(true), ak[j] || null);
      else j++;
    });
    var bk = kept(b);
    for (var i = 0; i < ak.length; i++) merge(ak[i], bk[i]);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var path = (detail.requestConfig && detail.requestConfig.path) || "";
    if (path.indexOf("/edit/validate") === -1 || !detail.shouldSwap) return;
    var section = detail.target;
    var template = document.createElement("template");
    template.innerHTML = detail.serverResponse;
    var fresh = template.content.firstElementChild;
    if (!fresh || fresh.id !== section.id || !sameShape(section, fresh)) return;
    merge(section, fresh);
    detail.shouldSwap = false;
  });
})();

// Login links (`/login#code=...`): the one-time code travels in the fragment, which browsers
// never send to a server, so it stays out of access logs. Move it into the login form and drop
// it from the address bar and history; the user submits the form (a POST with the CSRF token),
// so neither a link scanner nor a forged link logs anyone in by merely loading the page.
(function () {
  var match = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
  var field = document.getElementById("code");
  if (!match || !field) return;
  field.value = decodeURIComponent(match[1]);
  history.replaceState(null, "", window.location.pathname + window.location.search);
  var button = document.getElementById("code-submit");
  if (button) button.focus();
})();

// Typed confirmation of a deleting import (`data-confirm-word`): the Apply button is enabled
// once the word (or the deleted registries' slugs) is typed. The server checks it again; this
// only saves a round trip. Without JavaScript the button stays enabled and the server answers.
(function () {
  function matches(input) {
    var typed = input.value.trim().toLowerCase();
    if (typed === input.dataset.confirmWord) return true;
    var slugs = (input.dataset.confirmSlugs || "").split(" ").filter(Boolean).sort().join(" ");
    var given = typed.split(/[\s,]+/).filter(Boolean).sort().join(" ");
    return slugs !== "" && given === slugs;
  }
  function sync(input) {
    var button = input.form && input.form.querySelector("button[type=submit]");
    if (button) button.disabled = !matches(input);
  }
  function init(root) {
    root.querySelectorAll("input[data-confirm-word]").forEach(sync);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("input[data-confirm-word]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function () { init(document); });
})();
