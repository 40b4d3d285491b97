// The memory panel (templates/partials/memories.html), enhanced. static/chat.js loads this file
// the first time a reader opens the panel, or with a page that has it open: readers who never
// look never download it. It moves focus into the panel and back, closes it on Escape, keeps it
// modal while it covers the page (a sheet, on narrow screens), writes its times in the reader's
// zone and language, and links memories and the messages they were taken from, both ways.
// Without it the server does all of that but the focus (viewer/memory_panel.py).
(function () {
  "use strict";

  var root = document.documentElement;
  if (root.hasAttribute("data-memory-panel")) return;  // loaded once, whatever asks again
  root.setAttribute("data-memory-panel", "");

  var LANGUAGE = root.lang || undefined;
  var dateFormat = new Intl.DateTimeFormat(LANGUAGE, { dateStyle: "medium", timeStyle: "short" });
  var fullFormat = new Intl.DateTimeFormat(LANGUAGE, { dateStyle: "full", timeStyle: "long" });
  var clockFormat = new Intl.DateTimeFormat(LANGUAGE, { timeStyle: "short" });
  var SHEET = window.matchMedia("(max-width: 999.98px)");  // static/chat.css: over the page
  var TEXTS = readTexts();
  var opener = null;  // what opened the panel: focus goes back to it when the panel closes
  var searched = null;  // what the search box held when its form was last sent
  var covered = [];   // what the sheet made inert

  function readTexts() {
    try {
      return JSON.parse(document.querySelector('meta[name="chat-texts"]').getAttribute("content"));
    } catch (error) {
      return {};
    }
  }

  function panel() { return document.getElementById("memories"); }
  function toggle() { return document.getElementById("memories-toggle"); }
  function isOpen() { var shown = panel(); return !!shown && !shown.hidden; }

  function setExpanded(open) {
    var control = toggle();
    if (control) control.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // As a sheet the panel covers the page: what it covers is inert, out of Tab's and a screen
  // reader's reach, as a modal dialog's background is.
  function cover() {
    covered.forEach(function (element) { element.inert = false; });
    covered = [];
    var slot = document.getElementById("memories-slot");
    if (!slot || !isOpen() || !SHEET.matches) return;
    var header = document.querySelector("body > .topbar");
    if (header) covered.push(header);
    Array.prototype.forEach.call(slot.parentNode.children, function (element) {
      if (element !== slot) covered.push(element);
    });
    covered.forEach(function (element) { element.inert = true; });
  }

  function show(target) {
    var shown = panel();
    if (!shown) return;
    shown.hidden = false;
    setExpanded(true);
    cover();
    if (target) return reveal(target);
    var title = shown.querySelector(".memories__title");
    if (title) title.focus({ preventScroll: true });
  }

  function close(refocus) {
    var shown = panel();
    if (!shown || shown.hidden) return;
    shown.hidden = true;
    setExpanded(false);
    cover();
    var back = opener && opener.isConnected ? opener : toggle();
    opener = null;
    if (refocus !== false && back) back.focus({ preventScroll: true });
  }

  // Scroll only the panel (never a page that frames the widget) to a memory, and focus it.
  function reveal(memory) {
    var shown = panel();
    var head = shown.querySelector(".memories__head");
    var box = shown.getBoundingClientRect(), rect = memory.getBoundingClientRect();
    shown.scrollTop += rect.top - box.top - (head ? head.offsetHeight : 0) - 12;
    memory.classList.add("memory--shown");
    memory.addEventListener("blur", function () { memory.classList.remove("memory--shown"); },
      { once: true });
    memory.focus({ preventScroll: true });
  }

  // A message in the middle of the conversation's scroller, focused (as a permalink's is).
  function showMessage(message) {
    var scroller = document.querySelector(".scroller");
    if (scroller) {
      var box = scroller.getBoundingClientRect(), rect = message.getBoundingClientRect();
      scroller.scrollTop += rect.top + rect.height / 2 - (box.top + box.height / 2);
    }
    if (!message.hasAttribute("tabindex")) message.setAttribute("tabindex", "-1");
    message.classList.add("message--shown");
    message.addEventListener("blur", function () { message.classList.remove("message--shown"); },
      { once: true });
    message.focus({ preventScroll: true });
  }

  function localize(within) {
    within.querySelectorAll("time.memory__time[datetime]").forEach(function (time) {
      write(time, dateFormat);
    });
    within.querySelectorAll(".memory__source time[datetime]").forEach(function (time) {
      write(time, clockFormat);
    });
  }

  function write(time, format) {
    var moment = new Date(time.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    time.textContent = format.format(moment);
    time.title = fullFormat.format(moment);
  }

  // Sources name messages by role and time ("role|time", as the page writes a message's
  // data-role and <time datetime>); of several alike, the one whose text holds the source's
  // beginning. Letters and digits only: the page shows Markdown rendered, the source as typed.
  function comparable(text) {
    return (text || "").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
  }

  function messagesShown() {
    var shown = {};
    document.querySelectorAll('#messages > [data-role][id^="m-"]').forEach(function (message) {
      var time = message.querySelector("time.message__time[datetime]");
      if (!time) return;
      var key = message.getAttribute("data-role") + "|" + time.getAttribute("datetime");
      (shown[key] = shown[key] || []).push(message);
    });
    return shown;
  }

  function named(candidates, quote) {
    if (!candidates) return null;
    if (candidates.length === 1) return candidates[0];
    var start = comparable(quote).slice(0, 24);
    var found = candidates.filter(function (message) {
      var body = message.querySelector(".message__body");
      return start && body && comparable(body.textContent).indexOf(start) !== -1;
    });
    return found.length === 1 ? found[0] : null;
  }

  // Each source shown links to its message, and each message so named gets a mark linking
  // back to the first memory taken from it (search results link, but do not mark).
  function link(shown) {
    var messages = messagesShown(), marks = {};
    shown.querySelectorAll(".memory").forEach(function (memory) {
      var from = {};
      memory.querySelectorAll(".memory__source[data-source]").forEach(function (source) {
        var message = named(messages[source.getAttribute("data-source")],
          source.getAttribute("data-quote"));
        if (!message) return;
        source.setAttribute("href", "#" + message.id);
        from[message.id] = true;
      });
      if (memory.closest(".memory-results")) return;
      Object.keys(from).forEach(function (id) {
        if (marks[id]) marks[id].count += 1;
        else marks[id] = { anchor: memory.id, count: 1 };
      });
    });
    Object.keys(marks).forEach(function (id) {
      mark(document.getElementById(id), marks[id], shown);
    });
  }

  function mark(message, found, shown) {
    var chip = message.querySelector(":scope > .message__remembered");
    if (!chip) {
      var template = document.getElementById("memory-mark");
      if (!template) return;
      chip = template.content.firstElementChild.cloneNode(true);
      message.appendChild(chip);
    }
    chip.setAttribute("href", "#" + found.anchor);
    var words = found.count === 1 ? shown.getAttribute("data-text-mark-one")
      : shown.getAttribute("data-text-mark-many");
    var text = chip.querySelector(".message__remembered-text");
    if (text && words) text.textContent = words.replace("{count}", found.count);
  }

  function opened(shown, focus) {
    localize(shown);
    link(shown);
    if (focus) {
      opener = opener && opener.isConnected ? opener : toggle();
      show();
    } else {
      setExpanded(!shown.hidden);
      cover();
    }
  }

  // A request of the panel's that brought no answer (network down, timeout): said where its
  // answer would have gone, with a way to try again.
  function failed(event, words) {
    var control = event.detail.elt;
    if (!control || !control.closest) return;
    var form = control.closest(".memories__search");
    var place, retry;
    if (control.id === "memories-toggle") {
      var slot = document.getElementById("memories-slot");
      if (!slot || panel()) return;
      place = document.createElement("section");
      place.className = "memories";
      place.id = "memories";
      slot.appendChild(place);
      retry = function () { place.remove(); control.click(); };
    } else if (form) {
      place = document.getElementById("memories-results");
      retry = function () { htmx.trigger(form, "submit"); };
    } else if (control.closest("#memories")) {
      place = panel().querySelector(".memories__body") || panel();
      retry = function () { htmx.trigger(control, "click"); };
    } else {
      return;
    }
    var alert = document.createElement("div");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    var message = document.createElement("p");
    message.className = "alert__message";
    message.textContent = words;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "load-more";
    button.textContent = TEXTS.tryAgain || "Try again";
    button.addEventListener("click", retry);
    alert.appendChild(message);
    alert.appendChild(button);
    if (control.id === "memories-toggle" || form) place.replaceChildren(alert);
    else place.prepend(alert);
    if (control.id === "memories-toggle") {
      opener = control;
      show();
      button.focus({ preventScroll: true });
    }
  }

  document.addEventListener("htmx:sendError", function (event) {
    failed(event, TEXTS.network || "Could not reach the server.");
  });
  document.addEventListener("htmx:timeout", function (event) {
    failed(event, TEXTS.timeout || "The server took too long to answer.");
  });

  // The results take the focus, for a screen reader to read them out, unless the reader has
  // gone on meanwhile: typed in the box (the keys would go to the results' title) or moved
  // elsewhere.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.classList && form.classList.contains("memories__search")) {
      searched = form.elements.q ? form.elements.q.value : null;
    }
  });

  function untouched() {
    var box = document.getElementById("memories-query");
    var active = document.activeElement;
    if (!box || !box.form) return true;
    if (active && active !== document.body && !box.form.contains(active)) return false;
    return box.value === searched;
  }

  document.addEventListener("htmx:load", function (event) {
    var element = event.detail.elt;
    if (!element || !element.closest) return;
    if (element.id === "memories") return opened(element, true);
    if (element.closest("#memories")) {
      localize(element);
      link(element);
      var title = element.querySelector(".memory-results__title");
      if (title && event.detail.elt === title.closest(".memory-results") && untouched()) {
        title.focus({ preventScroll: true });
      }
      return;
    }
    if (panel() && element.closest("#messages")) link(panel());  // "load earlier", live
  });

  // Captured before htmx sees it: once the panel is here, its control opens and closes it
  // without asking the server again.
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("a") : null;
    if (!target) return;
    var href = target.getAttribute("href") || "";
    if (target.id === "memories-toggle") {
      if (!panel()) return;  // not loaded yet: htmx asks for it
      event.preventDefault();
      event.stopPropagation();
      if (isOpen()) return close();
      opener = target;
      return show();
    }
    if (target.classList.contains("memories__close")) {
      event.preventDefault();
      return close();
    }
    var destination = href.charAt(0) === "#" ? document.getElementById(href.slice(1)) : null;
    if (!destination) return;
    if (target.classList.contains("message__remembered") && panel()) {
      event.preventDefault();
      opener = target;
      return show(destination);
    }
    if (target.classList.contains("memory__source")) {
      event.preventDefault();
      if (SHEET.matches) close(false);
      showMessage(destination);
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !isOpen()) return;
    if (document.querySelector("details.menu[open]")) return;  // the menu closes first
    if (event.target.type === "search" && event.target.value) return;  // it clears the field
    if (SHEET.matches || panel().contains(document.activeElement)) close();
  });
  SHEET.addEventListener("change", cover);

  // Loaded with the panel on the page: a page rendered with it open is not focused into it
  // (the reader came to the page), a panel htmx brought before this file arrived is.
  var present = panel();
  if (present) {
    var control = toggle();
    opened(present, !!control && control.getAttribute("aria-expanded") !== "true");
  }
})();
