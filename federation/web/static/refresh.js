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
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
