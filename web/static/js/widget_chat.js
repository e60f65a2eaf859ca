// The web chat inside its frame: a visitor's session, the socket (/ws/widget) and the chat window.
// No build step. Customer and agent text only ever goes in through textContent.
(function () {
  "use strict";

  const body = document.body;
  const words = document.getElementById("wc-strings").dataset;
  const $ = (selector) => document.querySelector(selector);
  const launcher = $(".wc-launcher"), chat = $("#wc-window"), list = $(".wc-messages");
  const composer = $(".wc-composer"), input = composer.querySelector("textarea");
  const fileInput = composer.querySelector("input[type=file]"), badge = $(".wc-badge");
  const typingLine = $(".wc-typing"), away = $(".wc-away"), connection = $(".wc-connection");
  const prechat = $(".wc-prechat"), emailForm = $(".wc-email-form"), emailKnownLine = $(".wc-email-known");
  const maxUpload = Number(body.dataset.maxUpload), uploadTypes = body.dataset.uploadTypes.split(",");
  const embedded = window.parent !== window;
  const clock = new Intl.DateTimeFormat(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });

  let user = null;            // the shopper the shop's page signed for, if any
  let token = "", ticket = "";
  let socket = null, retry = 500, pinger = null;
  let lastId = 0, unread = 0, isOpen = false, ready = false;
  let agentsOnline = true, emailKnown = false, signedIn = false, named = false;
  const shown = new Map();    // message id -> its <li>
  const pending = new Map();  // client_msg_id -> {frame, li}: sent again after a reconnect until acked

  // ---- The frame and the page around it ----
  function tellPage(type, extra) {
    if (embedded) window.parent.postMessage({ type: `onethread:${type}`, ...extra }, "*");
  }

  function open(opened) {
    isOpen = opened;
    chat.hidden = !opened;
    body.classList.toggle("open", opened);
    launcher.setAttribute("aria-expanded", String(opened));
    tellPage(opened ? "open" : "close");
    if (opened) {
      unread = 0;
      showBadge();
      showPrechat();
      scrollDown();
      input.focus();
      sendRead();
    } else {
      launcher.focus();
    }
  }
  launcher.addEventListener("click", () => open(true));
  $(".wc-close").addEventListener("click", () => open(false));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && isOpen) open(false); });

  function showBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? "9+" : String(unread);
  }

  // ---- Session: the visitor's token in this origin's storage, a fresh ticket for every socket ----
  const storageKey = () => `onethread.widget.${user ? `shopper.${user.email || user.id}` : "visitor"}`;
  function remembered() { try { return localStorage.getItem(storageKey()) || ""; } catch (_) { return ""; } }
  function remember(value) { try { localStorage.setItem(storageKey(), value); } catch (_) { /* private mode */ } }

  async function startSession() {
    let answer = await post("/widget/session", { token: remembered(), user });
    if (answer.status === 403 && user) {
      // The page named a shopper it could not prove: chat on, but as an anonymous visitor.
      user = null;
      answer = await post("/widget/session", { token: remembered() });
    }
    if (!answer.ok) throw new Error(`session ${answer.status}`);
    const said = await answer.json();
    token = said.token;
    ticket = said.ticket;
    signedIn = said.signed_in;
    named = named || Boolean(said.name);
    remember(token);
  }

  function post(path, payload) {
    return fetch(path, { method: "POST", headers: { "Content-Type": "application/json",
                                                    Authorization: `Bearer ${token}` },
                         body: JSON.stringify(payload), credentials: "omit" });
  }

  // ---- The socket: hello with the ticket and the last id seen, then frames both ways ----
  async function connect() {
    try {
      await startSession();
    } catch (_) {
      // The server refused or is away: say so, and keep trying at a slower pace.
      connection.textContent = words.unavailable;
      lost();
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/widget`);
    socket.onopen = () => socket.send(JSON.stringify({ type: "hello", ticket, after_id: lastId }));
    socket.onmessage = (message) => onFrame(JSON.parse(message.data));
    socket.onclose = lost;
  }

  function lost() {
    ready = false;
    body.dataset.live = "off";
    connection.hidden = false;
    clearInterval(pinger);
    // Back off, then a new ticket and a hello with the last id seen: what came meanwhile is replayed.
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "message": return showMessage(frame);
      case "ack": return acked(frame);
      case "ready": return caughtUp(frame);
      case "status": return showStatus(frame);
      case "typing": return showTyping(frame);
      case "error": return refused(frame);
    }
  }

  function caughtUp(frame) {
    ready = true;
    retry = 500;
    connection.hidden = true;
    connection.textContent = connection.dataset.lost;
    body.dataset.live = "on";
    named = named || Boolean(frame.name);
    showStatus(frame);
    clearInterval(pinger);
    // Proxies drop sockets idle for about a minute.
    pinger = setInterval(() => send({ type: "ping" }), 25000);
    for (const { frame: unsent } of pending.values()) send(unsent);
    if (unseen.size) send({ type: "delivered", ids: [...unseen].slice(-100) });
    showPrechat();
    if (isOpen && !document.hidden) sendRead();
  }

  function showStatus(frame) {
    agentsOnline = frame.agents_online;
    emailKnown = frame.email_known;
    const status = $(".wc-status");
    status.textContent = agentsOnline ? status.dataset.online : status.dataset.offline;
    away.hidden = agentsOnline;
    showPrechat();
  }

  // ---- Messages ----
  function bubble(mine) {
    const li = document.createElement("li");
    li.className = `wc-message ${mine ? "mine" : "theirs"}`;
    const text = document.createElement("div");
    text.className = "wc-text";
    const meta = document.createElement("div");
    meta.className = "wc-meta";
    li.append(text, meta);
    return li;
  }

  function fill(li, frame, state) {
    const mine = frame.author === "visitor";
    li.querySelector(".wc-text").textContent = frame.text || "";
    li.querySelector(".wc-text").hidden = !frame.text;
    li.querySelectorAll(".wc-file").forEach((node) => node.remove());
    for (const file of frame.files || []) li.insertBefore(fileNode(file), li.querySelector(".wc-meta"));
    const who = mine ? words.you : (frame.name || words.us);
    const when = frame.ts ? clock.format(new Date(frame.ts)) : "";
    li.querySelector(".wc-meta").textContent = [who, when, state].filter(Boolean).join(" · ");
    if (frame.id) li.dataset.messageId = frame.id;
  }

  function fileNode(file) {
    const url = file.url || file.preview;
    if (url && file.type && file.type.startsWith("image/")) {
      const link = document.createElement("a");
      link.className = "wc-file wc-image";
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      const img = document.createElement("img");
      img.src = url;
      img.alt = file.name;
      link.append(img);
      return link;
    }
    const node = document.createElement(url ? "a" : "span");
    node.className = "wc-file";
    if (url) { node.href = url; node.setAttribute("download", file.name); }
    node.textContent = `${words.file}: ${file.name}`;
    return node;
  }

  function showMessage(frame) {
    if (frame.client_msg_id && pending.has(frame.client_msg_id)) {
      // The echo of what this widget just sent: the ack handles it.
      return;
    }
    let li = shown.get(frame.id);
    const fresh = !li;
    if (fresh) {
      li = bubble(frame.author === "visitor");
      shown.set(frame.id, li);
      insertInOrder(li, frame.id);
    }
    fill(li, frame, "");
    lastId = Math.max(lastId, frame.id);
    if (frame.author === "agent") {
      typingLine.hidden = true;
      if (fresh && frame.status !== "read") {
        unseen.add(frame.id);
        // Replayed ones are reported together once the catch-up is over (caughtUp).
        if (ready) send({ type: "delivered", ids: [frame.id] });
        if (isOpen && !document.hidden) sendRead();
        else { unread += 1; showBadge(); }
      }
    }
    scrollDown();
  }

  function insertInOrder(li, id) {
    // Catch-up may replay a message between ones already shown; pending ones stay last.
    const after = [...list.querySelectorAll("li.wc-message[data-message-id]")]
      .find((node) => Number(node.dataset.messageId) > id);
    list.insertBefore(li, after || list.querySelector("li.wc-message.pending") || null);
  }

  function acked(frame) {
    const waiting = pending.get(frame.client_msg_id);
    if (!waiting) return;
    pending.delete(frame.client_msg_id);
    waiting.li.classList.remove("pending", "failed");
    if (shown.has(frame.id)) { waiting.li.remove(); return; }
    shown.set(frame.id, waiting.li);
    waiting.li.remove();
    insertInOrder(waiting.li, frame.id);
    fill(waiting.li, { ...waiting.shown, id: frame.id, ts: frame.ts }, "");
    lastId = Math.max(lastId, frame.id);
  }

  function refused(frame) {
    const waiting = frame.client_msg_id && pending.get(frame.client_msg_id);
    if (!waiting) return;
    // Not sent again by itself, as a reconnect would: the visitor decides.
    pending.delete(frame.client_msg_id);
    waiting.li.classList.add("failed");
    const reason = frame.code === "slow_down" ? words.slowDown : (frame.message || "");
    fill(waiting.li, waiting.shown, `${words.failed}: ${reason}`);
    const again = document.createElement("button");
    again.type = "button";
    again.className = "link wc-retry";
    again.textContent = words.retry;
    again.addEventListener("click", () => {
      again.remove();
      waiting.li.classList.remove("failed");
      fill(waiting.li, waiting.shown, words.sending);
      pending.set(frame.client_msg_id, waiting);
      send(waiting.frame);
    }, { once: true });
    waiting.li.append(again);
  }

  function say(text, files, previews) {
    const client_msg_id = crypto.randomUUID ? crypto.randomUUID() : fallbackId();
    const frame = { type: "message", client_msg_id, text, files };
    const shownFrame = { author: "visitor", text, files: previews, ts: new Date().toISOString() };
    const li = bubble(true);
    li.classList.add("pending");
    fill(li, shownFrame, words.sending);
    list.append(li);
    pending.set(client_msg_id, { frame, li, shown: shownFrame });
    send(frame);
    scrollDown();
    stopTyping();
  }

  function fallbackId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").replace(
      /^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5");
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    say(text, [], []);
    showPrechat();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  // ---- Files: checked here for a quick answer, and again by the server ----
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (!uploadTypes.includes(file.type)) { note(words.wrongType); return; }
    if (file.size > maxUpload) { note(words.tooLarge); return; }
    const form = new FormData();
    form.append("file", file);
    note(words.uploading);
    const answer = await fetch("/widget/uploads", { method: "POST", body: form, credentials: "omit",
                                                    headers: { Authorization: `Bearer ${token}` } });
    if (!answer.ok) {
      let detail = "";
      try { detail = (await answer.json()).detail; } catch (_) { /* not JSON */ }
      note(answer.status === 413 ? words.tooLarge : (answer.status === 415 ? words.wrongType : detail || words.failed));
      return;
    }
    note("");
    const stored = await answer.json();
    const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
    const text = input.value.trim();
    input.value = "";
    say(text, [{ sha256: stored.sha256, name: stored.name, type: stored.type }],
        [{ name: stored.name, type: stored.type, preview }]);
  });

  function note(text) {
    typingLine.hidden = !text;
    typingLine.textContent = text;
  }

  // ---- Typing, both ways ----
  let typingSent = 0, typingStop = null;
  input.addEventListener("input", () => {
    autosize();
    if (Date.now() - typingSent > 2000) { typingSent = Date.now(); send({ type: "typing", state: "typing" }); }
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 4000);
  });
  function stopTyping() {
    clearTimeout(typingStop);
    if (typingSent) { typingSent = 0; send({ type: "typing", state: "stopped" }); }
  }

  let typingHide = null;
  function showTyping(frame) {
    clearTimeout(typingHide);
    if (frame.state !== "typing") { typingLine.hidden = true; return; }
    typingLine.textContent = frame.name ? words.typing.replace("%(name)s", frame.name) : words.typingAnonymous;
    typingLine.hidden = false;
    typingHide = setTimeout(() => { typingLine.hidden = true; }, 6000);
  }

  // ---- Read receipts: once the chat is open and seen ----
  // Agents' replies shown but not yet reported read: told once the chat is open and in view.
  const unseen = new Set();
  function sendRead() {
    if (!ready || !unseen.size) return;
    if (send({ type: "read", ids: [...unseen].slice(-100) })) unseen.clear();
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden && isOpen) sendRead(); });

  // ---- Who the visitor is: a pre-chat form (claimed), and an email when nobody is online ----
  function showPrechat() {
    // Asked once, before the first message: a visitor who chatted already is not asked again.
    prechat.hidden = signedIn || named || !isOpen || shown.size > 0 || pending.size > 0 ||
      prechat.dataset.skipped === "1";
    // Nobody online: ask for the email the reply will go to, unless the pre-chat form asks already.
    emailForm.hidden = emailKnown || signedIn || !prechat.hidden;
    emailKnownLine.hidden = !(emailKnown || signedIn);
  }
  prechat.querySelector(".wc-skip").addEventListener("click", () => {
    prechat.dataset.skipped = "1";
    showPrechat();
    input.focus();
  });
  prechat.addEventListener("submit", async (event) => {
    event.preventDefault();
    const given = Object.fromEntries(new FormData(prechat));
    const error = prechat.querySelector(".wc-error");
    if (!given.email && !given.phone) { error.textContent = words.emailNeeded; error.hidden = false; return; }
    const answer = await post("/widget/contact", given);
    if (!answer.ok) { error.textContent = words.badEmail; error.hidden = false; return; }
    const said = await answer.json();
    named = true;
    showStatus({ agents_online: agentsOnline, email_known: said.email_known });
    showPrechat();
    input.focus();
  });
  emailForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = emailForm.querySelector("input").value.trim();
    const answer = email ? await post("/widget/contact", { email }) : null;
    if (!answer || !answer.ok) { emailForm.querySelector("input").setCustomValidity(words.badEmail);
      emailForm.reportValidity(); return; }
    emailForm.querySelector("input").setCustomValidity("");
    showStatus({ agents_online: agentsOnline, email_known: (await answer.json()).email_known });
  });

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }
  function scrollDown() { list.scrollTop = list.scrollHeight; }

  // ---- Start: the page says who the shopper is (or nobody), then the socket opens ----
  let started = false;
  function begin() { if (!started) { started = true; connect(); } }
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data || event.data.type !== "onethread:config") return;
    user = event.data.user || null;
    begin();
  });
  tellPage("ready", { title: document.title });
  // A page without the loader (the frame opened by itself) has nobody to wait for.
  setTimeout(begin, embedded ? 1500 : 0);
})();
