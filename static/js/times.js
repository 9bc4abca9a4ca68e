// Relative times ("3 minutes ago") stay true on a page left open: every minute, each
// <time data-relative> is re-read from its `datetime` with the server's rules
// (registry/domain/metadata.py, relative_time: UTC calendar days). The exact time in its
// `.exact` span and `title` never changes. Without JavaScript the server's text stays.
(function () {
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function ago(n, unit) {
    return n + " " + unit + (n === 1 ? "" : "s") + " ago";
  }

  function utcDay(d) {
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  }

  function relative(then, now) {
    var seconds = Math.floor((now - then) / 1000);
    if (seconds < -60) return null; // ahead of this clock: the server shows the exact time
    if (seconds < 60) return "just now";
    if (seconds < 3600) return ago(Math.floor(seconds / 60), "minute");
    var days = Math.round((utcDay(now) - utcDay(then)) / 86400000);
    if (seconds < 12 * 3600 || days === 0) return ago(Math.floor(seconds / 3600), "hour");
    if (days === 1) return "yesterday";
    if (days < 7) return ago(days, "day");
    var year = then.getUTCFullYear() === now.getUTCFullYear() ? "" : " " + then.getUTCFullYear();
    return then.getUTCDate() + " " + MONTHS[then.getUTCMonth()] + year;
  }

  function refresh() {
    var now = new Date();
    var times = document.querySelectorAll("time[data-relative][datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var then = new Date(el.getAttribute("datetime"));
      var text = isNaN(then) ? null : relative(then, now);
      var node = el.firstChild;
      if (text && node && node.nodeType === Node.TEXT_NODE && node.nodeValue !== text) {
        node.nodeValue = text;
      }
    }
  }

  setInterval(refresh, 60000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
})();
