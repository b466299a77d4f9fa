// Progressive refresh of the network table: re-reads only the table every few
// seconds. Without JavaScript the page's <noscript> meta refresh does the same.
(function () {
  "use strict";
  var box = document.getElementById("network");
  if (!box || !window.fetch) { return; }
  var seconds = parseInt(box.getAttribute("data-refresh"), 10) || 10;
  function refresh() {
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var table = doc.getElementById("network-table");
        var current = document.getElementById("network-table");
        if (table && current) { current.replaceWith(document.importNode(table, true)); }
        // The summary sits in a live region: touch it only when it changed, so a
        // screen reader hears "2 of 3 libraries are up" once, not every tick.
        var summary = doc.getElementById("network-summary");
        var shown = document.getElementById("network-summary");
        if (summary && shown && summary.textContent !== shown.textContent) {
          shown.textContent = summary.textContent;
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
