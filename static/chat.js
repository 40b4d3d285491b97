// Progressive enhancement for the conversation page; everything works without it.
(function () {
  "use strict";

  var NETWORK_ERROR = "Could not reach the server. Check the connection and try again.";
  var TIMEOUT_ERROR = "The server took too long to answer. Try again.";
  var MINUTE = 60 * 1000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
  var clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
  var dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full" });
  var relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

  // Message times: the viewer's own zone and locale; recent ones also as "5 minutes ago".
  function localizeTime(time) {
    var moment = new Date(time.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    var age = Date.now() - moment.getTime();
    time.title = fullFormat.format(moment);
    if (age >= 0 && age < MINUTE) time.textContent = relative.format(0, "second");
    else if (age >= 0 && age < HOUR) time.textContent = relative.format(-Math.floor(age / MINUTE), "minute");
    else if (age >= 0 && age < 6 * HOUR) time.textContent = relative.format(-Math.floor(age / HOUR), "hour");
    else time.textContent = clockFormat.format(moment);
  }

  // Day separators carry a plain date: label it relative to the viewer's today.
  function localizeDay(time) {
    var parts = time.getAttribute("datetime").split("-").map(Number);
    var day = new Date(parts[0], parts[1] - 1, parts[2]);
    if (isNaN(day.getTime())) return;
    var today = new Date();
    today.setHours(0, 0, 0, 0);
    var days = Math.round((today.getTime() - day.getTime()) / DAY);
    time.textContent = days === 0 || days === 1 ? capitalize(relative.format(-days, "day"))
      : dayFormat.format(day);
  }

  function capitalize(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function copyButton(label, getText) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = label;
    button.addEventListener("click", function () {
      copyText(getText()).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Copy failed";
      });
      setTimeout(function () { button.textContent = label; }, 2000);
    });
    return button;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var copied = document.execCommand("copy");
      area.remove();
      (copied ? resolve : reject)();
    });
  }

  function addCopyButtons(message) {
    var content = message.querySelector(".message__content");
    if (!content) return;
    var meta = message.querySelector(".message__meta");
    if (!meta) {
      meta = document.createElement("p");
      meta.className = "message__meta";
      message.appendChild(meta);
    }
    meta.appendChild(copyButton("Copy", function () { return content.innerText.trim(); }));
    content.querySelectorAll(".code-block").forEach(function (block) {
      var code = block.querySelector("code");
      if (code) block.appendChild(copyButton("Copy code", function () { return code.innerText; }));
    });
  }

  function enhance(root) {
    if (!root.querySelectorAll) return;
    // htmx:load comes for each swapped-in element, so root may itself be a message.
    within(root, ".message:not([data-enhanced])").forEach(function (message) {
      message.setAttribute("data-enhanced", "");
      addCopyButtons(message);
    });
    within(root, "time.message__time").forEach(localizeTime);
    within(root, ".day-separator time").forEach(localizeDay);
  }

  // The elements matching selector in root, root itself included.
  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

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
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });

  // The clicked control is replaced by the swap; keep keyboard focus on its successor
  // without scrolling anything (the widget may be framed by another page).
  document.addEventListener("htmx:afterSettle", function () {
    if (document.activeElement && document.activeElement !== document.body) return;
    var next = document.getElementById("load-more") ||
      document.getElementById("conversation-start");
    if (next) next.focus({ preventScroll: true });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { enhance(document.body); });
  } else {
    enhance(document.body);
  }
})();
