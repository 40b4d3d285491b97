// Host-side loader for the MemOS chat widget. Paste where the conversation should appear:
//   <div data-memos-chat="https://viewer.example.com/embed?token=..."></div>
//   <script src="https://viewer.example.com/static/embed.js" async></script>
// Optional: data-max-height="600" (pixels; the widget scrolls inside beyond that),
// data-title="Conversation history", data-theme="light|dark|auto" (without it, the host
// page's own background behind the div decides light or dark), data-accent="#0a7" (#rgb or
// #rrggbb, for user bubbles and links; anything else is ignored).
(function () {
  "use strict";
  var DEFAULT_MAX_HEIGHT = 600;
  var THEMES = ["light", "dark", "auto"];
  var ACCENT = /^#(?:[0-9a-f]{3}){1,2}$/i;
  // The luminance at which white and black text contrast equally (WCAG 2): a background
  // darker than this reads better with light text, so it is a dark page.
  var DARK_BELOW = 0.179;
  var STYLES_WAIT_MS = 3000;  // at most, for the host's stylesheets before reading its colours

  var widgets = [];  // { host, frame, origin } of every widget this page mounted

  function mount(host) {
    if (host.getAttribute("data-memos-chat-mounted") !== null) return;
    var src;
    try {
      src = new URL(host.getAttribute("data-memos-chat"), document.baseURI);
    } catch (error) {
      return;
    }
    if (src.protocol !== "https:" && src.protocol !== "http:") return;
    host.setAttribute("data-memos-chat-mounted", "");
    var accent = host.getAttribute("data-accent");
    if (accent !== null) {
      // The viewer refuses any other value with a 400: a typo must not cost the widget.
      if (ACCENT.test(accent)) src.searchParams.set("accent", accent);
      else if (window.console) console.warn("memos-chat: data-accent must be #rgb or #rrggbb");
    }
    var theme = chosenTheme(host, src);
    if (theme) show(host, src, theme);
    else whenStyled(function () { show(host, src, pageTheme(host)); });
  }

  function show(host, src, theme) {
    // The theme is how the reader sees the widget, never part of a signed link's token (an
    // accent is: the viewer refuses one the token does not carry).
    src.searchParams.set("theme", theme);
    var maxHeight = parseInt(host.getAttribute("data-max-height"), 10) || DEFAULT_MAX_HEIGHT;
    var frame = document.createElement("iframe");
    frame.src = src.href;
    // The widget names itself in its own language once loaded (below), unless the host did.
    var named = host.getAttribute("data-title");
    frame.title = named || "Conversation history";
    frame.loading = "lazy";
    frame.referrerPolicy = "strict-origin-when-cross-origin";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.display = "block";
    // The widget's own color-scheme: a browser paints an opaque canvas behind a frame whose
    // color-scheme differs from its iframe element's, and the widget is see-through only
    // when they match ("light dark" follows the reader's system on both sides).
    frame.style.colorScheme = theme === "auto" ? "light dark" : theme;
    frame.style.height = Math.min(320, maxHeight) + "px";
    host.appendChild(frame);
    widgets.push({ host: host, frame: frame, origin: src.origin });

    window.addEventListener("message", function (event) {
      // Only the widget we created, from the origin we loaded it from, may resize it.
      if (event.source !== frame.contentWindow || event.origin !== src.origin) return;
      var data = event.data;
      if (!data || data.type !== "memos-chat:height" || typeof data.height !== "number") return;
      if (!isFinite(data.height) || data.height < 0) return;
      frame.style.height = Math.min(Math.ceil(data.height), maxHeight) + "px";
      if (!named && typeof data.title === "string" && data.title) {
        frame.title = data.title.slice(0, 200);
      }
    });
  }

  // The theme the host chose: data-theme on the element, else ?theme= in its link; null when
  // it chose none, and the page's own colours decide.
  function chosenTheme(host, src) {
    var asked = host.getAttribute("data-theme");
    if (THEMES.indexOf(asked) >= 0) return asked;
    var linked = src.searchParams.get("theme");
    return THEMES.indexOf(linked) >= 0 ? linked : null;
  }

  function pageTheme(host) {
    return luminance(backgroundBehind(host)) < DARK_BELOW ? "dark" : "light";
  }

  // What the page paints behind element: the first opaque background among it and its
  // ancestors, with the see-through ones nearer the element laid over it, over the page's
  // canvas when none is opaque. Background images are not read: their colour is unknown.
  function backgroundBehind(element) {
    var layers = [];
    for (var node = element; node; node = node.parentElement) {
      var colour = rgba(getComputedStyle(node).backgroundColor);
      if (!colour || colour[3] === 0) continue;
      layers.push(colour);
      if (colour[3] >= 1) break;
    }
    var under = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() : canvas();
    for (var index = layers.length - 1; index >= 0; index -= 1) {
      var layer = layers[index], alpha = layer[3];
      under = [0, 1, 2].map(function (channel) {
        return layer[channel] * alpha + under[channel] * (1 - alpha);
      });
    }
    return under;
  }

  // The page's canvas when nothing paints it: the Canvas colour of its own color-scheme
  // (dark on a page that declares only "dark", say).
  function canvas() {
    var probe = document.createElement("span");
    probe.style.backgroundColor = "Canvas";
    document.documentElement.appendChild(probe);
    var colour = rgba(getComputedStyle(probe).backgroundColor);
    probe.remove();
    return colour && colour[3] > 0 ? colour : [255, 255, 255, 1];
  }

  // [red, green, blue, alpha] of a computed colour: rgb() and rgba() read directly, any other
  // syntax (oklch(), color()...) painted on a canvas; null when unreadable.
  function rgba(text) {
    var match = /^rgba?\(([^)]*)\)$/.exec(text || "");
    if (match) {
      var parts = match[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
      if (parts.length >= 3 && parts.every(isFinite)) {
        return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
      }
    }
    var context = document.createElement("canvas").getContext("2d");
    if (!context) return null;
    context.fillStyle = "transparent";  // kept when text is no colour: nothing painted
    context.fillStyle = text;
    context.fillRect(0, 0, 1, 1);
    var pixel = context.getImageData(0, 0, 1, 1).data;
    return [pixel[0], pixel[1], pixel[2], pixel[3] / 255];
  }

  // WCAG 2's relative luminance of [red, green, blue] (0..255 each).
  function luminance(colour) {
    var linear = colour.slice(0, 3).map(function (channel) {
      var value = channel / 255;
      return value <= 0.04045 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
  }

  // The page's background comes from its stylesheets, which an async script may outrun: wait
  // for those still loading (a moment at most; one that failed before now sends no event).
  function whenStyled(callback) {
    var pending = Array.prototype.filter.call(
      document.querySelectorAll('link[rel~="stylesheet"]'),
      function (link) { return !link.sheet && !link.disabled; });
    var left = pending.length;
    var done = false;
    function finish() {
      if (done) return;
      done = true;
      callback();
    }
    if (!left) return finish();
    pending.forEach(function (link) {
      function settled() {
        left -= 1;
        if (!left) finish();
      }
      link.addEventListener("load", settled);
      link.addEventListener("error", settled);
    });
    setTimeout(finish, STYLES_WAIT_MS);
  }

  function mountAll() {
    document.querySelectorAll("[data-memos-chat]").forEach(mount);
  }

  // MemosChat.refresh(): every widget checks for new messages now (say, after the host's own
  // chat posted one); refresh(element): only the widget in (or of) that element. Sent only
  // to the widget's own origin; the widget accepts it only from its parent page.
  window.MemosChat = window.MemosChat || {};
  window.MemosChat.refresh = function (element) {
    mountAll();
    widgets.forEach(function (widget) {
      if (element && element !== widget.frame && !element.contains(widget.host)) return;
      if (widget.frame.contentWindow) {
        widget.frame.contentWindow.postMessage({ type: "memos-chat:refresh" }, widget.origin);
      }
    });
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
