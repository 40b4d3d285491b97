// Inside the embedded widget: tell the host page how tall the conversation is, so
// static/embed.js can size the iframe. Heights carry no conversation data.
(function () {
  "use strict";
  // Opened on its own (a link followed, a tab): no host's card behind it, so it takes the
  // page's background (static/chat.css) rather than the browser's canvas.
  if (window.parent === window) {
    document.documentElement.classList.add("unframed");
    return;
  }
  var lastHeight = 0;

  function contentHeight() {
    var history = document.querySelector(".history");
    if (history) return Math.ceil(history.scrollHeight);
    var alert = document.querySelector("main > .alert");
    if (!alert) return Math.ceil(document.body.scrollHeight);
    // An error: down to the end of its box and margin (its own height alone would leave
    // the frame short by its top margin, and clip its last line).
    var bottom = alert.getBoundingClientRect().bottom + window.scrollY;
    return Math.ceil(bottom + parseFloat(getComputedStyle(alert).marginBottom || "0"));
  }

  function report() {
    var height = contentHeight();
    if (height === lastHeight) return;
    lastHeight = height;
    // The widget's name (its title, in the page's language) for the host's iframe.
    var title = document.title.split(" · ")[0];
    window.parent.postMessage({ type: "memos-chat:height", height: height, title: title }, "*");
  }

  // The host page asks for a check now (MemosChat.refresh in static/embed.js): accepted only
  // from the page that frames this widget, and only from an origin allowed to frame it.
  function allowedOrigin(origin) {
    var meta = document.querySelector('meta[name="memos-embed-origins"]');
    var sources = meta ? meta.getAttribute("content").split(/\s+/) : [];
    return sources.some(function (source) {
      if (source === "'self'") return origin === window.location.origin;
      var wildcard = source.match(/^(https?:\/\/)\*\.(.+)$/);
      if (!wildcard) return origin === source;
      var url;
      try { url = new URL(origin); } catch (error) { return false; }
      var rest = wildcard[2];  // "example.com" or "example.com:8443"
      return url.protocol + "//" === wildcard[1] && url.host.slice(-(rest.length + 1)) === "." + rest;
    });
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || !allowedOrigin(event.origin)) return;
    if (!event.data || event.data.type !== "memos-chat:refresh") return;
    document.dispatchEvent(new CustomEvent("memos-chat:refresh"));
  });

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
