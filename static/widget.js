// Inside the embedded widget: tell the host page how tall the conversation is, so
// static/embed.js can size the iframe. Heights carry no conversation data.
(function () {
  "use strict";
  if (window.parent === window) return;
  var lastHeight = 0;

  function contentHeight() {
    var history = document.querySelector(".history");
    var alert = document.querySelector("main > .alert");
    var element = history || alert || document.body;
    return Math.ceil(element.scrollHeight);
  }

  function report() {
    var height = contentHeight();
    if (height === lastHeight) return;
    lastHeight = height;
    window.parent.postMessage({ type: "memos-chat:height", height: height }, "*");
  }

  document.addEventListener("DOMContentLoaded", report);
  document.addEventListener("htmx:afterSettle", report);
  window.addEventListener("load", report);
  if (window.ResizeObserver) {
    document.addEventListener("DOMContentLoaded", function () {
      var history = document.querySelector(".history") || document.body;
      new ResizeObserver(report).observe(history);
    });
  } else {
    window.addEventListener("resize", report);
  }
})();
