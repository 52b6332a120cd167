// Downbeat live refresh, for the service page. The page is complete without it; with it,
// the live sections re-read themselves every 30 s while the tab is visible. Same origin,
// a conditional request for the same cached page (nothing new costs a 304), no other assets.
(function () {
  "use strict";
  var etag = null;
  function refresh() {
    if (document.hidden) return;
    fetch(location.pathname, { cache: "no-cache", credentials: "same-origin" })
      .then(function (r) {
        var tag = r.headers.get("ETag");
        if (!r.ok || (tag && tag === etag)) return null;
        etag = tag;
        return r.text();
      })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        fresh.querySelectorAll("[data-live]").forEach(function (s) {
          var old = document.getElementById(s.id);
          if (old && old.hasAttribute("data-live") && old.innerHTML !== s.innerHTML) {
            old.innerHTML = s.innerHTML;
          }
        });
        document.documentElement.setAttribute("data-refreshed", new Date().toISOString());
      })
      .catch(function () {});
  }
  var every = parseInt(document.currentScript.getAttribute("data-every"), 10) || 30000;
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
