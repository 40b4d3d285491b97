// Progressive enhancement for the conversation page; the page works without it.
(function () {
  "use strict";

  var NETWORK_ERROR = "Could not reach the server. Check the connection and try again.";
  var TIMEOUT_ERROR = "The server took too long to answer. Try again.";

  // A failed request that brought no page of ours (network down, timeout): say so in place
  // and keep the control as the retry link. Messages already shown stay untouched.
  function showLoadError(control, text) {
    var head = document.getElementById("history-head");
    if (!head || !control) return;
    var alert = document.createElement("div");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    var message = document.createElement("p");
    message.className = "alert__message";
    message.textContent = text;
    alert.appendChild(message);
    control.textContent = "Try again";
    alert.appendChild(control);
    head.replaceChildren(alert);
  }

  document.addEventListener("htmx:sendError", function (event) {
    showLoadError(event.detail.elt, NETWORK_ERROR);
  });
  document.addEventListener("htmx:timeout", function (event) {
    showLoadError(event.detail.elt, TIMEOUT_ERROR);
  });

  // The clicked control is replaced by the swap; keep keyboard focus on its successor
  // without scrolling anything (the widget may be framed by another page).
  document.addEventListener("htmx:afterSettle", function () {
    if (document.activeElement && document.activeElement !== document.body) return;
    var next = document.getElementById("load-more") ||
      document.getElementById("conversation-start");
    if (next) next.focus({ preventScroll: true });
  });
})();
