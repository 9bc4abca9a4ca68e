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
