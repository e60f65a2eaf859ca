// onethread's web chat, for any shop page: one tag,
//   <script src="https://SUPPORT/widget.js" async></script>
// and, for a signed-in shopper, what the shop's backend signed (docs/channels/webchat.md):
//   data-user-email="…" (or data-user-id="…") data-user-name="…" data-user-hash="HMAC-SHA256 hex"
// Optional: data-lang="tr" (else the page's <html lang>, else the browser's).
//
// This file only draws an iframe of SUPPORT/widget, inside a shadow root: the page's styles cannot
// reach it and its own cannot leak out. The chat, its storage and its socket live in the frame.
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.onethreadWidget) return;
  const origin = new URL(script.src, location.href).origin;
  const data = script.dataset;
  const user = data.userHash ? { email: data.userEmail || undefined, id: data.userId || undefined,
                                 name: data.userName || undefined, hash: data.userHash } : null;
  const lang = (data.lang || document.documentElement.lang || navigator.language || "").slice(0, 2);

  const host = document.createElement("div");
  host.setAttribute("data-onethread-widget", "");
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  // Closed: just the launcher's corner. Open: a window, or the whole screen on a phone.
  style.textContent = `
    :host { all: initial; }
    iframe { position: fixed; right: 12px; bottom: 12px; width: 76px; height: 76px; border: 0; margin: 0;
             padding: 0; background: transparent; color-scheme: normal; z-index: 2147483000; }
    iframe.open { width: 384px; height: min(640px, calc(100vh - 24px)); border-radius: 16px;
                  box-shadow: 0 12px 40px rgba(20, 30, 60, .22); }
    @media (max-width: 480px) {
      iframe.open { inset: 0; right: 0; bottom: 0; width: 100%; height: 100%; border-radius: 0; }
    }`;
  const frame = document.createElement("iframe");
  frame.src = `${origin}/widget?lang=${encodeURIComponent(lang)}`;
  frame.title = "Chat";
  frame.setAttribute("allow", "clipboard-write");
  root.append(style, frame);
  window.onethreadWidget = { frame };

  window.addEventListener("message", (event) => {
    // Only our own frame, from our own server, is listened to.
    if (event.source !== frame.contentWindow || event.origin !== origin || !event.data) return;
    const said = event.data;
    if (said.type === "onethread:ready") {
      if (said.title) frame.title = said.title;
      // Told to our origin only: the shopper's signature goes nowhere else.
      frame.contentWindow.postMessage({ type: "onethread:config", user }, origin);
    } else if (said.type === "onethread:open") {
      frame.classList.add("open");
    } else if (said.type === "onethread:close") {
      frame.classList.remove("open");
    }
  });

  const attach = () => document.body.append(host);
  if (document.body) attach(); else document.addEventListener("DOMContentLoaded", attach);
})();
