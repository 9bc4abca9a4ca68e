// Small glue only (no framework): the error box, lost sessions, confirmations, unsaved-change
// warnings, focus after editor buttons, Enter in list fields. htmx does the requests.

// --- the error box ---------------------------------------------------------------------------
// htmx answers that are not swapped (see the responseHandling in base.html) and problem+json
// answers (errors of fragment requests: the server never sends them a whole page) show their
// `detail` in #htmx-error. A session that ended adds a "log in in a new tab" link.
var staleToken = false; // the page's CSRF token belongs to a session that ended

function errorBox() {
  return document.getElementById("htmx-error");
}

function showError(text, options) {
  var box = errorBox();
  if (!box) return;
  options = options || {};
  box.textContent = text;
  if (options.login && box.dataset.loginUrl) {
    var link = document.createElement("a");
    link.href = box.dataset.loginUrl;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Log in in a new tab";
    box.appendChild(document.createTextNode(" "));
    box.appendChild(link);
  }
  box.hidden = false;
  if (options.focus) {
    box.focus({ preventScroll: true });
    box.scrollIntoView({ block: "nearest" });
  }
}

function problemOf(xhr) {
  var type = xhr.getResponseHeader("Content-Type") || "";
  if (type.indexOf("application/problem+json") === -1) return null;
  try {
    return JSON.parse(xhr.responseText);
  } catch (e) {
    return null;
  }
}

function fromSubmit(detail) {
  var config = detail.requestConfig || {};
  var trigger = config.triggeringEvent || detail.triggeringEvent;
  return !!(trigger && (trigger.type === "submit" || trigger.type === "click"));
}

function reportProblem(detail) {
  var xhr = detail.xhr;
  var problem = problemOf(xhr);
  var kind = problem && problem.type ? problem.type.split("/").pop() : "";
  if (kind === "session-ended" || kind === "csrf-expired") staleToken = true;
  var text = "Request failed (" + xhr.status + ").";
  if (problem && problem.detail) text = problem.detail;
  else if (xhr.status === 403) text = "You are not allowed to do that.";
  showError(text, { login: kind === "session-ended", focus: fromSubmit(detail) });
}

document.addEventListener("htmx:responseError", function (event) {
  reportProblem(event.detail);
});

// Never swap an error or a whole page into a fragment target: the form stays as it is.
var WHOLE_PAGE = /^\s*(<!doctype|<html[\s>])/i;
document.addEventListener("htmx:beforeSwap", function (event) {
  var detail = event.detail;
  if (!detail.shouldSwap) return;
  var swapsBody = detail.target === document.body;
  if (problemOf(detail.xhr)) {
    detail.shouldSwap = false;
    reportProblem(detail);
  } else if (!swapsBody && WHOLE_PAGE.test(detail.serverResponse || "")) {
    detail.shouldSwap = false;
    showError("The server answered with a whole page instead of this part of it; nothing " +
      "was changed here. Reload the page if this keeps happening.", { focus: fromSubmit(detail) });
  }
});

document.addEventListener("htmx:beforeRequest", function () {
  var box = errorBox();
  if (box) box.hidden = true;
});

// After a session ended, fetch a fresh token before the next request (once the user has
// logged in again in another tab, "save again" then works with the form as it is).
function refreshToken() {
  var box = errorBox();
  var url = box && box.dataset.csrfUrl;
  if (!url) return Promise.resolve(false);
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) {
      if (!data || !data.csrf_token) return false;
      document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": data.csrf_token }));
      document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
        input.value = data.csrf_token;
      });
      staleToken = false;
      return true;
    })
    .catch(function () { return false; });
}

// --- confirmations ---------------------------------------------------------------------------
// A submit button with `data-confirm` (or a checked checkbox with `data-confirm` that is not
// stored so: `data-stored="false"`) asks in the <dialog> of base.html before the form is
// sent; confirming adds `<input type=hidden name=data-confirm-field value=1>` (default
// `confirmed`), which the server requires (without JavaScript it asks on its own).
var dialogOpen = false;

function confirmationFor(form, submitter) {
  if (submitter && submitter.dataset && submitter.dataset.confirm) return submitter;
  if (!form || form.tagName !== "FORM" || (submitter && submitter.name === "op")) return null;
  var boxes = form.querySelectorAll('input[type="checkbox"][data-confirm]');
  for (var i = 0; i < boxes.length; i++) {
    var box = boxes[i];
    if (box.checked && box.dataset.stored !== "true" && !(submitter && submitter.name === box.dataset.confirmField)) {
      var field = form.querySelector('input[type="hidden"][name="' + box.dataset.confirmField + '"]');
      if (!field || field.value !== "1") return box;
    }
  }
  return null;
}

function askFor(source) {
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") {
    return Promise.resolve(window.confirm(source.dataset.confirm));
  }
  document.getElementById("confirm-dialog-title").textContent =
    source.dataset.confirmTitle || "Are you sure?";
  document.getElementById("confirm-dialog-text").textContent = source.dataset.confirm;
  document.getElementById("confirm-dialog-ok").textContent =
    source.dataset.confirmButton || "Confirm";
  var invoker = document.activeElement;
  dialog.returnValue = "";
  dialogOpen = true;
  return new Promise(function (resolve) {
    dialog.addEventListener("close", function () {
      dialogOpen = false;
      var ok = dialog.returnValue === "confirm";
      if (!ok && invoker && document.body.contains(invoker)) invoker.focus();
      resolve(ok);
    }, { once: true });
    dialog.showModal();
  });
}

function markConfirmed(form, source) {
  var name = source.dataset.confirmField || "confirmed";
  var input = form.querySelector('input[type="hidden"][name="' + name + '"]');
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    form.appendChild(input);
  }
  input.value = "1";
}

var passing = null; // the element whose next request has been confirmed already

function resend(elt, submitter, issueRequest) {
  passing = elt;
  if (submitter && document.body.contains(submitter)) submitter.click();
  else issueRequest(true);
}

document.addEventListener("htmx:confirm", function (event) {
  var detail = event.detail;
  var elt = detail.elt;
  if (passing === elt) {
    passing = null;
    return;
  }
  var trigger = detail.triggeringEvent;
  var submitter = trigger && trigger.submitter;
  var form = elt.tagName === "FORM" ? elt : elt.form || elt.closest("form");
  var source = elt === form || (submitter && submitter.dataset.confirm)
    ? confirmationFor(form, submitter) : null; // not for a section's inline validation
  if (!source && !staleToken) return;
  event.preventDefault();
  var asked = source ? askFor(source) : Promise.resolve(true);
  asked.then(function (ok) {
    if (!ok) return false;
    if (source && form) markConfirmed(form, source);
    return staleToken ? refreshToken().then(function () { return true; }) : true;
  }).then(function (go) {
    if (go) resend(elt, submitter, detail.issueRequest);
  });
});

// Forms sent without htmx (htmx cancels the submit event of the forms it sends).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || form.method === "dialog") return;
  var submitter = event.submitter;
  if (passing === form) {
    passing = null;
  } else {
    var source = confirmationFor(form, submitter);
    if (source) {
      event.preventDefault();
      askFor(source).then(function (ok) {
        if (!ok) return;
        markConfirmed(form, source);
        passing = form;
        if (submitter) form.requestSubmit(submitter);
        else form.requestSubmit();
      });
      return;
    }
  }
  if (form.hasAttribute("data-warn-unsaved")) leaving = true;
});

// --- unsaved changes -------------------------------------------------------------------------
// An editor form (`data-warn-unsaved`) that was changed warns before the page is left, except
// by its own successful save (htmx: an HX-Redirect answer) or a plain post of the form, or a
// link that says it discards (`data-discard`).
var dirty = false;
var leaving = false;

function inWarnedForm(el) {
  return !!(el && el.closest && el.closest("form[data-warn-unsaved]"));
}

["input", "change"].forEach(function (type) {
  document.addEventListener(type, function (event) {
    if (inWarnedForm(event.target)) dirty = true;
  });
});
document.addEventListener("htmx:beforeRequest", function (event) {
  var config = event.detail.requestConfig || {};
  var trigger = config.triggeringEvent;
  if (trigger && trigger.submitter && trigger.submitter.name === "op" && inWarnedForm(event.detail.elt)) {
    dirty = true; // an editor button changes the form (not saved yet)
  }
});
document.addEventListener("htmx:beforeOnLoad", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.getResponseHeader("HX-Redirect") && inWarnedForm(event.detail.elt)) dirty = false;
});
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[data-discard]");
  if (link) leaving = true;
});
window.addEventListener("pageshow", function () {
  leaving = false;
});
window.addEventListener("beforeunload", function (event) {
  if (!dirty || leaving || !document.querySelector("form[data-warn-unsaved]")) return;
  event.preventDefault();
  event.returnValue = ""; // older browsers need a value to ask
});

// --- focus and scrolling after the editor's buttons ------------------------------------------
// Each editor button's `formaction` ends in the fragment of what should have the focus after
// it (see templates/_macros/schema_form.html). The form is replaced, so the viewport is kept
// where it was (no jump) and that target's first field gets the focus, scrolled into view only
// as far as needed. A refused save (409/422) focuses the error summary or the conflict panel.
(function () {
  var pending = null;
  var FIELD = 'input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled])';
  var ANY = FIELD + ", button:not([disabled]), a[href]";

  function sectionIdForExtension(key) {
    return "sec-ext-" + key.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  function reveal(el) {
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest" });
  }

  function focusTarget(id) {
    var target = document.getElementById(id);
    if (!target) return false;
    var matches = target.matches(ANY);
    // a field first; else an Add button (never a Remove that Enter would press by mistake)
    var el = matches ? target : target.querySelector(FIELD) ||
      target.querySelector('button[value^="add:"]:not([disabled])') || target.querySelector(ANY);
    if (!el) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      el = target;
    }
    reveal(el);
    return true;
  }

  // The fragment is taken off the request (htmx would scroll it to the top of the viewport).
  document.addEventListener("htmx:configRequest", function (event) {
    var config = event.detail;
    var elt = config.elt;
    if (elt.tagName !== "FORM" || !elt.classList.contains("editor")) return;
    var submitter = config.triggeringEvent && config.triggeringEvent.submitter;
    var cut = config.path.indexOf("#");
    var id = cut === -1 ? "" : config.path.slice(cut + 1);
    if (cut !== -1) config.path = config.path.slice(0, cut) || elt.getAttribute("hx-post");
    if (submitter && submitter.value === "add-extension") {
      var select = elt.querySelector('select[name="new_extension"]');
      if (select && select.value) id = sectionIdForExtension(select.value);
    }
    pending = { form: elt.id, id: id, x: window.scrollX, y: window.scrollY };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (pending && event.detail.target && event.detail.target.id === pending.form) {
      window.scrollTo(pending.x, pending.y);
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!pending || !target || target.id !== pending.form) return;
    var job = pending;
    pending = null;
    var form = document.getElementById(job.form);
    if (!form) return;
    var status = event.detail.xhr ? event.detail.xhr.status : 200;
    var panel = form.querySelector("[autofocus]");
    if (panel || status === 409 || status === 422) {
      panel = panel || form.querySelector("#conflict-panel, #editor-errors");
      if (panel) {
        panel.focus({ preventScroll: true });
        panel.scrollIntoView({ block: "start" });
        return;
      }
    }
    window.scrollTo(job.x, job.y);
    if (job.id && focusTarget(job.id)) return;
    if (job.id === "extensions" && focusTarget("f-new-extension")) return;
  });

  // the summary's links: move the focus with the jump (browsers only scroll)
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#editor-errors a[href^='#']");
    if (!link) return;
    var id = link.getAttribute("href").slice(1);
    if (document.getElementById(id)) {
      event.preventDefault();
      focusTarget(id);
      history.replaceState(null, "", "#" + id);
    }
  });
})();

// --- Enter in a list's one-line field --------------------------------------------------------
// In a list of short texts (tools, tags, keys), Enter goes to the next item, or adds one after
// the last, instead of saving the whole form. Ctrl/Cmd+Enter still saves.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
  var input = event.target;
  if (input.tagName !== "INPUT" || (input.type !== "text" && input.type !== "number")) return;
  var item = input.closest("li.row");
  var list = item && item.closest("fieldset.array");
  if (!list || !inWarnedForm(list)) return;
  event.preventDefault();
  var next = item.nextElementSibling;
  var field = next && next.querySelector('input:not([type="hidden"]), select, textarea');
  if (field) {
    field.focus();
    return;
  }
  var add = document.getElementById(list.id + "-add");
  if (add) add.click();
});

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

// Copy buttons (`data-copy="<input id>"`, hidden without JavaScript, where the read-only
// field can still be selected): copy the field's value and say so on the button.
(function () {
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.dataset.copy);
    if (!field) return;
    function done() { button.textContent = "Copied"; }
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        if (document.execCommand("copy")) done();
      });
    } else if (document.execCommand("copy")) {
      done();
    }
  });
})();
