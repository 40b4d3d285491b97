// Host-side loader for the MemOS chat widget. Paste where the conversation should appear:
//   <div data-memos-chat="https://viewer.example.com/embed?token=..."></div>
//   <script src="https://viewer.example.com/static/embed.js" async></script>
// Optional: data-max-height="600" (pixels; the widget scrolls inside beyond that),
// data-title="Conversation history".
(function () {
  "use strict";
  var DEFAULT_MAX_HEIGHT = 600;

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
