// Progressive enhancement for the conversation page; everything works without it.
(function () {
  "use strict";

  // What this script says, in the page's language (templates/base.html, viewer/templating.py),
  // and dates in that language too, not only the browser's.
  var TEXTS = readTexts();
  var LANGUAGE = document.documentElement.lang || undefined;
  var MINUTE = 60 * 1000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var fullFormat = new Intl.DateTimeFormat(LANGUAGE, { dateStyle: "full", timeStyle: "short" });
  var clockFormat = new Intl.DateTimeFormat(LANGUAGE, { timeStyle: "short" });
  var dayFormat = new Intl.DateTimeFormat(LANGUAGE, { dateStyle: "full" });
  var writtenFormat = new Intl.DateTimeFormat(LANGUAGE, { dateStyle: "medium", timeStyle: "short" });
  var relative = new Intl.RelativeTimeFormat(LANGUAGE, { numeric: "auto" });

  function readTexts() {
    var meta = document.querySelector('meta[name="chat-texts"]');
    try {
      return JSON.parse(meta.getAttribute("content"));
    } catch (error) {
      return {};
    }
  }

  // Every text is on the page (viewer/templating.py script_texts, tested); the name stands in
  // for one that is not, rather than a second copy of the English here.
  function phrase(name) { return TEXTS[name] || name; }

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

  // "Edited" says when in its tooltip: the reader's zone and the page's language too.
  function localizeEdited(mark) {
    var moment = new Date(mark.getAttribute("data-edited"));
    if (isNaN(moment.getTime())) return;
    mark.title = phrase("editedAt").replace("%(time)s", fullFormat.format(moment));
  }

  // Find's results (partials/found.html): when each message was written, in the reader's zone.
  function localizeWritten(time) {
    var moment = new Date(time.getAttribute("datetime"));
    if (!isNaN(moment.getTime())) time.textContent = writtenFormat.format(moment);
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

  // Icons drawn here (24 x 24, stroked in the text's colour): no icon font, no file to fetch.
  var SVG = "http://www.w3.org/2000/svg";
  var ICONS = {
    copy: "M9 9h10a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H11a2 2 0 0 1-2-2zM5 15a2 2 0 0 1-2-2V5" +
      "a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2",
    link: "M10 14a4.5 4.5 0 0 0 6.4 0l3.3-3.3a4.5 4.5 0 0 0-6.4-6.4l-1.1 1.1M14 10a4.5 4.5 0 0 0" +
      "-6.4 0l-3.3 3.3a4.5 4.5 0 0 0 6.4 6.4l1.1-1.1",
    done: "M4.5 12.5l5 5L19.5 7",
    failed: "M6 6l12 12M18 6L6 18"
  };

  function icon(name) {
    var svg = document.createElementNS(SVG, "svg");
    var path = document.createElementNS(SVG, "path");
    [["viewBox", "0 0 24 24"], ["aria-hidden", "true"], ["focusable", "false"], ["fill", "none"],
      ["stroke", "currentColor"], ["stroke-width", "2"], ["stroke-linecap", "round"],
      ["stroke-linejoin", "round"]].forEach(function (pair) { svg.setAttribute(pair[0], pair[1]); });
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  // Said politely to screen readers ("Copied"), in the conversation's status line (the one
  // "load earlier" speaks in): the button's own name changes too, but not every screen
  // reader announces a new name of the focused control.
  function announce(words) {
    var status = document.getElementById("history-status");
    if (!status) return;
    status.textContent = "";
    setTimeout(function () { status.textContent = words; }, 50);  // the same words again
  }

  // An icon button that copies getText(): named by its (visually hidden) label, which is its
  // tooltip too; it says "Copied" (or "Copy failed") for two seconds after a click.
  function copyButton(label, iconName, className, getText) {
    var button = document.createElement("button");
    var name = document.createElement("span");
    var timer = null;
    button.type = "button";
    button.className = className + " action";
    name.className = "visually-hidden";
    button.append(icon(iconName), name);
    function show(words, shape) {
      name.textContent = words;
      button.title = words;
      button.replaceChild(icon(shape), button.firstChild);
    }
    show(label, iconName);
    button.addEventListener("click", function () {
      clearTimeout(timer);
      copyText(getText()).then(function () {
        show(phrase("copied"), "done");
        announce(phrase("copied"));
      }, function () {
        show(phrase("copyFailed"), "failed");
        announce(phrase("copyFailed"));
      }).then(function () {
        timer = setTimeout(function () { show(label, iconName); }, 2000);
      });
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

  // A message's actions go in its meta line (made when the message has none), in a
  // .message__actions of their own: after the time, or before it in a user's message, so that
  // the time keeps to the message's outer side (chat.css).
  function actionsOf(message) {
    var actions = message.querySelector(".message__actions");
    if (actions) return actions;
    var meta = message.querySelector(".message__meta");
    if (!meta) {
      meta = document.createElement("p");
      meta.className = "message__meta";
      message.appendChild(meta);
    }
    actions = document.createElement("span");
    actions.className = "message__actions";
    if (message.classList.contains("message--user")) meta.prepend(actions);
    else meta.appendChild(actions);
    return actions;
  }

  function addCopyButtons(message) {
    var content = message.querySelector(".message__content");
    if (!content) return;
    actionsOf(message).appendChild(copyButton(phrase("copy"), "copy", "copy-button",
      function () { return content.innerText.trim(); }));
    content.querySelectorAll(".code-block").forEach(function (block) {
      var code = block.querySelector("code");
      if (code) {
        block.appendChild(copyButton(phrase("copyCode"), "copy", "copy-button",
          function () { return code.innerText; }));
      }
    });
  }

  // Permalinks: each message with an id (viewer/history.py message_ids) gets "Copy link",
  // which copies this page's own address (the widget's, in a widget) naming the message:
  // ?message=<hex>, and #m-<hex> so that a reader without JavaScript lands on it too.
  function messageLink(id) {
    var url = new URL(window.location.href);
    url.searchParams.set("message", id.slice(2));  // replaces any message= already there
    url.hash = id;
    return url.href;
  }

  function addLinkButton(message) {
    var id = message.id;
    if (!/^m-[0-9a-f]{12}$/.test(id)) return;
    actionsOf(message).appendChild(copyButton(phrase("copyLink"), "link",
      "copy-link", function () { return messageLink(id); }));
  }

  // The message a permalink asked for: in the middle of the scroller (or at its top, below
  // its scroll margin as without the script, when too tall for that), and focused without
  // scrolling, so a screen reader and Tab go on from there. Only the scroller moves:
  // scrollIntoView would scroll a host page that frames the widget, and the widget takes no
  // focus from its host.
  function showTarget() {
    var target = document.querySelector('#messages > [aria-current="true"]');
    var scroller = document.querySelector(".scroller");
    if (!target || !scroller) return;
    var box = scroller.getBoundingClientRect(), rect = target.getBoundingClientRect();
    var margin = parseFloat(getComputedStyle(target).scrollMarginTop) || 0;
    var offset = rect.height + 2 * margin > box.height ? rect.top - box.top - margin
      : rect.top + rect.height / 2 - (box.top + box.height / 2);
    scroller.scrollTop += offset;
    if (window.self === window.top) target.focus({ preventScroll: true });
  }

  // "Show less", at the end of an opened long message (templates/partials/message.html):
  // close it, and bring the message's top back into view when it is above the scroller's.
  // Only the scroller moves (a widget's host page stays put); focus goes to the summary.
  function showLess(button) {
    var details = button.closest("details");
    if (!details) return;
    details.open = false;
    var message = button.closest(".message");
    var scroller = message && message.closest(".scroller");
    if (scroller) {
      var top = message.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
      if (top < 0) scroller.scrollTop += top - 16;
    }
    var summary = details.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".message__less");
    if (button) showLess(button);
  });

  function enhance(root) {
    if (!root.querySelectorAll) return;
    within(root, ".message__less[hidden]").forEach(function (button) { button.hidden = false; });
    // htmx:load comes for each swapped-in element, so root may itself be a message.
    within(root, ".message:not([data-enhanced])").forEach(function (message) {
      message.setAttribute("data-enhanced", "");
      addCopyButtons(message);
      addLinkButton(message);
    });
    within(root, "details.menu:not([data-enhanced])").forEach(enhanceMenu);
    within(root, "time.message__time").forEach(localizeTime);
    within(root, ".message__edited[data-edited]").forEach(localizeEdited);
    within(root, ".day-separator time").forEach(localizeDay);
    within(root, "time.found-result__time").forEach(localizeWritten);
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
    if (!head || !control || control.id !== "load-more") return;  // the panel has its own
    var alert = alertOf([text]);
    alert.firstChild.className = "alert__message";
    control.removeAttribute("data-auto-load");  // a retry waits for the reader's click
    control.textContent = phrase("tryAgain");
    alert.appendChild(control);
    head.replaceChildren(alert);
  }

  document.addEventListener("htmx:sendError", function (event) {
    showLoadError(event.detail.elt, phrase("network"));
  });
  document.addEventListener("htmx:timeout", function (event) {
    showLoadError(event.detail.elt, phrase("timeout"));
  });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });

  // The clicked control is replaced by the swap; keep keyboard focus on its successor
  // without scrolling anything (the widget may be framed by another page). Only after a
  // request ("load earlier"): live updates swap with no request, and move no one's focus.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || event.detail.target.closest("#memories-slot")) return;
    if (autoLoaded && !autoLoaded.hadFocus) return;  // the reader was not on the control
    if (document.activeElement && document.activeElement !== document.body) return;
    var next = document.getElementById("load-more") ||
      document.getElementById("conversation-start");
    if (next) next.focus({ preventScroll: true });
  });

  // "Load earlier" by itself: when the reader scrolls up and the control (data-auto-load)
  // comes within half a screen of the scroller's top, it is clicked for them: the same htmx
  // request, and the column-reverse scroller keeps the reader's place as the messages arrive
  // above. Never in a loop: only while the reader scrolls up (wheel, touch, scroll bar or
  // keys; not a page short enough to show the control, not focus or a script moving the
  // scroller), one request at a time, and not after a failure (its "Try again" has no
  // data-auto-load). The start of the conversation and the API's cap have no control. The
  // control stays a link and a button for keyboards and for readers without this script.
  var autoLoaded = null;  // {control, hadFocus} of the last request made here, until another
  var SCROLL_KEYS = /^(ArrowUp|ArrowDown|PageUp|PageDown|Home|End| )$/;
  var GESTURE_MS = 1000;  // scrolling this soon after the reader's gesture is theirs

  function startAutoLoad() {
    var scroller = document.querySelector(".scroller");
    if (!scroller || !window.IntersectionObserver || !window.htmx) return;
    var control = null, near = false, rising = false, lastTop = 0, gesture = 0;
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.target !== control) return;
        near = entry.isIntersecting;
        if (near && rising) load();
      });
    }, { root: scroller, rootMargin: "50% 0px 0px 0px" });

    function watch() {
      observer.disconnect();
      control = document.querySelector("#load-more[data-auto-load]");
      near = rising = false;
      if (!control) return;
      lastTop = control.getBoundingClientRect().top;
      observer.observe(control);
    }

    function load() {
      if (!control || !control.isConnected || control.classList.contains("htmx-request")) return;
      autoLoaded = { control: control, hadFocus: document.activeElement === control };
      var clicked = control;
      control = null;  // until the answer brings the next one
      observer.disconnect();
      clicked.click();
    }

    function reader() { gesture = Date.now(); }
    scroller.addEventListener("wheel", reader, { passive: true });
    scroller.addEventListener("touchmove", reader, { passive: true });
    scroller.addEventListener("pointerdown", function (event) {
      if (event.target === scroller) reader();  // its scroll bar
    });
    document.addEventListener("keydown", function (event) {
      if (SCROLL_KEYS.test(event.key)) reader();
    });

    // The reader moves up when the control moves down the screen (whatever the direction
    // the scroller counts in); messages added below or above leave it where it was. A fling
    // goes on scrolling after the finger has left: still the reader's.
    scroller.addEventListener("scroll", function () {
      if (!control) return;
      var top = control.getBoundingClientRect().top;
      var theirs = Date.now() - gesture < GESTURE_MS;
      if (theirs) gesture = Date.now();
      if (top !== lastTop) rising = theirs && top > lastTop;
      lastTop = top;
      if (near && rising) load();
    }, { passive: true });
    document.addEventListener("htmx:afterSettle", watch);
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (autoLoaded && event.detail.elt !== autoLoaded.control) autoLoaded = null;
    });
    // The control stays, as "Try again" (showLoadError): a click on it is the reader's.
    ["htmx:sendError", "htmx:timeout"].forEach(function (name) {
      document.addEventListener(name, function () { autoLoaded = null; });
    });
    watch();
  }

  // Live updates (templates/partials/live.html): ask for messages newer than the newest shown,
  // every data-live-seconds while the tab is visible; back off on failures; pause after
  // IDLE_LIMIT without the reader doing anything. The server answers 204 when nothing is new.
  var IDLE_LIMIT = 30 * MINUTE, MAX_DELAY = 5 * MINUTE;

  function startLive() {
    var live = document.getElementById("live");
    var messages = document.getElementById("messages");
    if (!live || !messages || !live.getAttribute("data-live-url") || !window.fetch) return;
    var url = live.getAttribute("data-live-url");
    var interval = Math.max(1, parseFloat(live.getAttribute("data-live-seconds"))) * 1000;
    var status = live.querySelector(".live__status");
    var resume = control("live__resume", text("resume"), live);
    var newer = control("new-messages", "", live.parentNode);
    newer.id = "new-messages";
    var scroller = document.querySelector(".scroller");
    var delay = interval, timer = null, busy = false, stopped = false, paused = false;
    var refreshAgain = false;  // the host asked while a check was out: one more, after it
    var lastActivity = Date.now(), unseen = 0, due = Date.now() + interval;

    function text(name) { return live.getAttribute("data-text-" + name) || ""; }

    function control(className, label, parent) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = className;
      button.textContent = label;
      button.hidden = true;
      parent.appendChild(button);
      return button;
    }
    function say(words) { if (status.textContent !== words) status.textContent = words; }

    function schedule(wait) {
      clearTimeout(timer);
      due = Date.now() + wait;
      timer = setTimeout(tick, wait);
    }

    function tick() {
      if (stopped || paused || document.hidden) return;  // visibility or "resume" restarts
      if (Date.now() - lastActivity > IDLE_LIMIT) return pause();
      check();
    }

    // refresh: the host page asked (its own chat just posted): the server reads MemOS afresh
    // rather than reuse another reader's answer of the last moments (viewer/sharing.py).
    // Asked while a check is out, it is not dropped: it follows that check.
    function check(refresh) {
      if (stopped || paused) return;
      if (busy) {
        refreshAgain = refreshAgain || refresh === true;
        return;
      }
      if (refreshAgain) refresh = true;
      refreshAgain = false;
      busy = true;
      var headers = { "HX-Request": "true" };
      if (refresh === true) headers["Live-Refresh"] = "1";
      fetch(url, { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(answer)
        .catch(function () { busy = false; backOff(0); });  // offline, or the answer broke
    }

    function answer(response) {
      if (response.status === 204) return done();
      return response.text().then(function (html) {
        busy = false;
        if (response.ok) {
          url = response.headers.get("Live-Next") || url;
          append(html);
          return done();
        }
        if (response.status === 429 || response.status >= 500) {
          return backOff(parseFloat(response.headers.get("Retry-After")) || 0);
        }
        stop(html);  // 409: the conversation changed; 403: the link expired; 400, 404...
      });
    }

    function done() {
      busy = false;
      delay = interval;
      say("");
      schedule(interval);
      if (refreshAgain) check(true);
    }

    // Doubling up to MAX_DELAY, with jitter so that many pages do not retry in step, and
    // never sooner than the server's Retry-After.
    function backOff(retryAfter) {
      delay = Math.min(MAX_DELAY, delay * 2);
      var wait = Math.max(delay * (0.75 + Math.random() / 2), retryAfter * 1000);
      say(text("retrying"));
      schedule(Math.min(wait, 24 * 60 * MINUTE));
    }

    // Our own fragment says why: partials/live_notice.html (shown, with its reload link) or
    // an error page's message (said in the status line, not as an alert). The two sentences
    // are joined by the translation, not here: languages space them differently.
    function stop(html) {
      stopped = true;
      clearTimeout(timer);
      live.classList.remove("live--running");
      var answer = document.createElement("div");
      answer.innerHTML = html;
      var notice = answer.querySelector(".live-notice");
      var reason = answer.querySelector(".alert__message");
      var why = reason && !notice ? reason.textContent.trim() : "";
      say(why ? text("stopped-because").replace("{reason}", why) : text("stopped"));
      if (notice) live.appendChild(notice);
    }

    function pause() {
      paused = true;
      live.classList.remove("live--running");
      say(text("paused"));
      resume.hidden = false;
    }

    resume.addEventListener("click", function () {
      paused = false;
      live.classList.add("live--running");
      resume.hidden = true;
      lastActivity = Date.now();
      say("");
      check();
    });

    // New messages go below; a reader at the newest end sees them (the column-reverse
    // scroller keeps the bottom in view), one who scrolled up keeps their place and gets
    // the "new messages" control.
    function atNewest() { return !scroller || Math.abs(scroller.scrollTop) < 2; }

    function append(html) {
      var following = atNewest();
      var height = scroller ? scroller.scrollHeight : 0, top = scroller ? scroller.scrollTop : 0;
      var count = messages.querySelectorAll("[data-role]").length;
      htmx.swap(messages, html, { swapStyle: "beforeend", settleDelay: 0 });
      var menu = document.getElementById("conversation-menu");  // brought by a first message
      if (menu) enhance(menu);
      dropRepeatedDays();
      dropRepeatedIds();
      var added = messages.querySelectorAll("[data-role]").length - count;
      if (following || !scroller) return;
      unseen += added;
      newer.textContent = text(unseen === 1 ? "new-one" : "new-many").replace("{count}", unseen);
      newer.hidden = false;
      // After showing the control: it is below the messages too, and adds to their height.
      // (Browsers with scroll anchoring have kept the reader's place already; Safari has none.)
      scroller.scrollTop = top - (scroller.scrollHeight - height);
    }

    function dropRepeatedDays() {
      var seen = {};
      messages.querySelectorAll(".day-separator").forEach(function (separator) {
        if (seen[separator.id]) separator.remove();
        seen[separator.id] = true;
      });
    }

    // A new message identical to one shown (same role, text and time) has the same id: the
    // newest keeps it, as the server decides for the messages of one answer.
    function dropRepeatedIds() {
      var seen = {};
      var marked = messages.querySelectorAll('[id^="m-"]');
      for (var index = marked.length - 1; index >= 0; index--) {
        if (seen[marked[index].id]) marked[index].removeAttribute("id");
        else seen[marked[index].id] = true;
      }
    }

    function showNewest() {
      unseen = 0;
      newer.hidden = true;
      if (scroller) scroller.scrollTop = 0;
    }

    newer.addEventListener("click", function () {
      showNewest();
      var last = messages.lastElementChild;
      if (last) {
        last.setAttribute("tabindex", "-1");
        last.focus({ preventScroll: true });
      }
    });
    if (scroller) {
      scroller.addEventListener("scroll", function () { if (atNewest() && unseen) showNewest(); });
    }

    ["pointerdown", "keydown", "wheel", "touchstart", "focusin"].forEach(function (name) {
      document.addEventListener(name, function () { lastActivity = Date.now(); }, true);
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !paused && !stopped && Date.now() >= due) check();
      else if (!document.hidden && !paused && !stopped) schedule(due - Date.now());
    });
    // The host page asked for a check now (static/embed.js, through static/widget.js).
    document.addEventListener("memos-chat:refresh", function () {
      if (paused || stopped) return;
      lastActivity = Date.now();
      check(true);
    });
    live.classList.add("live--running");
    schedule(interval);
  }

  // The conversation menu (partials/menu.html), a <details> that works alone: the script adds
  // what needs it, "Copy conversation as Markdown" (the same file as the Markdown download,
  // fetched when asked for) and "Print", and closes the menu as menus close: on Escape (focus
  // back on its button), on a click or tap outside, when focus leaves it, and once an item
  // did its job (but "Copy", whose button says whether it worked).
  function enhanceMenu(menu) {
    menu.setAttribute("data-enhanced", "");
    var items = menu.querySelector(".menu__items");
    if (!items) return;
    if (window.fetch && items.getAttribute("data-copy-url")) {
      addMenuAction(items, copyConversationButton(items.getAttribute("data-copy-url")));
    }
    if (window.print) {
      var print = menuButton(items.getAttribute("data-text-print") || "Print", "menu__print");
      print.addEventListener("click", function () {
        closeMenu(menu, false);
        window.print();
      });
      addMenuAction(items, print);
    }
    items.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a") : null;
      if (!link) return;
      if (!link.classList.contains("menu__download") || !window.fetch) return closeMenu(menu, false);
      event.preventDefault();
      download(link, menu);
    });
  }

  // The downloads are fetched here rather than followed, so that a refusal (MemOS down, too
  // many downloads at once) is said in the menu, in the server's words (its error page's
  // heading and sentence), not as the browser's "Failed - server problem". DOMParser, not
  // innerHTML: nothing in a page it parses runs or loads. The file is saved under the name
  // viewer/export.py gave it (an ASCII filename="...").
  function download(link, menu) {
    if (link.getAttribute("aria-busy")) return;  // already on its way
    link.setAttribute("aria-busy", "true");
    clearMenuNote(menu);
    fetch(link.href, { credentials: "same-origin" }).then(function (response) {
      if (response.ok) {
        return response.blob().then(function (blob) {
          var named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition"));
          var saved = document.createElement("a");
          saved.href = URL.createObjectURL(blob);
          saved.download = named ? named[1] : "conversation";
          document.body.appendChild(saved);  // Firefox clicks only links in the document
          saved.click();
          saved.remove();
          setTimeout(function () { URL.revokeObjectURL(saved.href); }, 60000);
          closeMenu(menu, false);
        });
      }
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var said = Array.prototype.map.call(page.querySelectorAll(".alert__title, .alert__message"),
          function (element) { return element.textContent.trim(); }).filter(Boolean);
        menuNote(menu, said.length ? said
          : [phrase("downloadFailed").replace("{status}", response.status)]);
      });
    }).catch(function () {  // no answer, or one cut short
      menuNote(menu, [phrase("network")]);
    }).then(function () {
      link.removeAttribute("aria-busy");
    });
  }

  // Said in the menu, which stays open: a heading and a sentence, or one sentence.
  function menuNote(menu, lines) {
    var note = document.createElement("li");
    note.className = "menu__note";
    note.appendChild(alertOf(lines));
    menu.querySelector(".menu__items").appendChild(note);
  }

  // An alert of a paragraph for each line of text.
  function alertOf(lines) {
    var alert = document.createElement("div");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    lines.forEach(function (line) {
      var paragraph = document.createElement("p");
      paragraph.textContent = line;
      alert.appendChild(paragraph);
    });
    return alert;
  }

  function clearMenuNote(menu) {
    menu.querySelectorAll(".menu__note").forEach(function (note) { note.remove(); });
  }

  function menuButton(label, className) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "menu__item " + className;
    button.textContent = label;
    return button;
  }

  function addMenuAction(items, button) {
    var item = document.createElement("li");
    if (!items.querySelector(".menu__action")) item.className = "menu__action menu__action--first";
    else item.className = "menu__action";
    item.appendChild(button);
    items.appendChild(item);
  }

  // Given to the clipboard as a promise where browsers take one (Safari then keeps the
  // click's permission to copy).
  function copyConversationButton(url) {
    var label = phrase("copyConversation");
    var button = menuButton(label, "menu__copy");
    button.addEventListener("click", function () {
      var markdown = fetch(url, { cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("export failed: " + response.status);
          return response.text();
        });
      var copied = window.ClipboardItem && navigator.clipboard && navigator.clipboard.write &&
        window.isSecureContext
        ? navigator.clipboard.write([new ClipboardItem({ "text/plain": markdown.then(
          function (text) { return new Blob([text], { type: "text/plain" }); }) })])
        : markdown.then(copyText);
      copied.then(function () {
        button.textContent = phrase("copied");
      }, function () {
        button.textContent = phrase("copyFailed");
      }).then(function () {
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
    return button;
  }

  function closeMenu(menu, refocus) {
    if (!menu.open) return;
    menu.open = false;
    clearMenuNote(menu);
    if (refocus) menu.querySelector("summary").focus({ preventScroll: true });
  }

  function openMenus() {
    return Array.prototype.slice.call(document.querySelectorAll("details.menu[open]"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) { closeMenu(menu, true); });
  });
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) closeMenu(menu, false);
    });
  });
  document.addEventListener("focusin", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) closeMenu(menu, false);
    });
  });

  // Printing (static/chat.css): open collapsed messages for the paper (the CSS does too, where
  // ::details-content is supported) and close them after; date the printed header in the
  // reader's own zone and language.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    var now = new Date();
    document.querySelectorAll("details.message__more:not([open])").forEach(function (details) {
      details.open = true;
      openedForPrint.push(details);
    });
    document.querySelectorAll(".printed__time").forEach(function (time) {
      time.dateTime = now.toISOString();
      time.textContent = now.toLocaleString(LANGUAGE, { dateStyle: "long", timeStyle: "long" });
    });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (details) { details.open = false; });
    openedForPrint = [];
  });

  // The memory panel's own script and styles (static/memories.js, memories.css) come the first
  // time the panel is asked for, or with a page that has it open: readers who never open it
  // never download them.
  var panelScript = null;

  function loadPanelScript() {
    var control = document.getElementById("memories-toggle");
    if (panelScript || !control) return;
    var style = control.getAttribute("data-panel-style");
    if (!document.querySelector('link[href="' + style + '"]')) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = style;
      document.head.appendChild(link);
    }
    panelScript = document.createElement("script");
    panelScript.src = control.getAttribute("data-panel-script");
    document.head.appendChild(panelScript);
  }

  // The panel's control: a link to the page with the panel open, and here an htmx request
  // for the panel alone, put beside (or over) the conversation. Once the panel is on the
  // page, static/memories.js opens and closes it without asking again.
  document.addEventListener("click", function (event) {
    var control = event.target.closest && event.target.closest("#memories-toggle");
    if (!control || document.getElementById("memories") || !window.htmx) return;
    event.preventDefault();
    if (control.classList.contains("htmx-request")) return;  // asked already
    loadPanelScript();
    htmx.ajax("GET", control.getAttribute("data-panel-url"),
      { source: control, target: "#memories-slot", swap: "innerHTML" });
  });

  function start() {
    enhance(document.body);
    showTarget();
    startAutoLoad();  // after showTarget: its scroll is not the reader's
    startLive();
    if (document.getElementById("memories")) loadPanelScript();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
