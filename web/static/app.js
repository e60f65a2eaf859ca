// onethread's few behaviours htmx does not cover. No build step: plain, small, deferred.
(function () {
  "use strict";

  const body = document.body;
  const openThreadId = () => Number((document.querySelector("#thread[data-thread-id]") || {}).dataset?.threadId || 0);

  // The newest message is at the bottom: show it when a conversation opens or changes.
  function showLatest() {
    const messages = document.querySelector("#thread .messages");
    if (messages) messages.scrollTop = messages.scrollHeight;
  }

  // Ctrl/Cmd+Enter sends from the composer, as in every inbox agents know.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.closest(".composer")) {
      event.preventDefault();
      event.target.closest("form").requestSubmit();
    }
  });

  // Keyboard: what Front, Gorgias and Zendesk users reach for. Never while typing.
  function go(step) {
    const items = [...document.querySelectorAll(".conversation")];
    if (!items.length) return;
    // The open conversation, not the highlighted row: a live refresh may redraw the list mid-keypress.
    const open = openThreadId();
    let at = items.findIndex((item) => Number(item.dataset.threadId) === open);
    if (at < 0) at = items.findIndex((item) => item.classList.contains("selected"));
    const next = items[Math.min(Math.max(at + step, 0), items.length - 1)];
    next.querySelector("a.open").click();
    next.scrollIntoView({ block: "nearest" });
  }
  function compose(kind) {
    const radio = document.querySelector(`#thread input[name=kind][value=${kind}]`);
    if (radio && !radio.disabled) radio.checked = true;
    const text = document.querySelector("#thread textarea[name=text]");
    if (text) text.focus();
  }
  // Posts what the button would, without waiting for htmx to have wired up a freshly swapped pane.
  function press(selector) {
    const button = document.querySelector(selector);
    if (!button) return;
    const form = button.closest("form");
    const headers = JSON.parse(body.getAttribute("hx-headers") || "{}");
    htmx.ajax("POST", form.getAttribute("hx-post"),
      { target: "#thread", swap: "outerHTML", values: { [button.name]: button.value }, headers });
  }
  const keys = {
    j: () => go(1), k: () => go(-1), r: () => compose("reply"), n: () => compose("note"),
    e: () => press("#thread button[name=status][value=resolved]"),
    a: () => press("#thread button[name=assignee][value=me]"),
    "?": () => document.getElementById("shortcuts")?.showModal(),
    "/": () => document.querySelector(".topsearch input")?.select(),
  };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  document.addEventListener("click", function (event) {
    const item = event.target.closest(".conversation");
    if (!item) return;
    document.querySelectorAll(".conversation.selected").forEach((el) => el.classList.remove("selected"));
    item.classList.add("selected");
    item.classList.remove("unread");
  });

  // ---- Live updates: every committed change, resumed from the last event seen. ----
  if (!body.dataset.liveAfter) return;
  let lastId = Number(body.dataset.liveAfter);
  const seen = new Set();
  let socket = null;
  let retry = 500;
  let refreshTimer = null;
  let refreshThread = false;
  const viewers = new Map(); // user id -> {name, state, until}

  let refreshDue = false;
  let inFlight = 0;
  let whenRefreshed = null;
  function refresh() {
    refreshDue = false;
    const view = body.dataset.view || "unassigned";
    const threadId = openThreadId();
    const jobs = [htmx.ajax("GET", `/inbox/list?view=${encodeURIComponent(view)}&selected=${threadId}`,
      { target: "#list", swap: "outerHTML" })];
    // A pane opened on older history (a search hit) stays put; it catches up as the reader scrolls down.
    if (refreshThread && threadId && !document.querySelector("#messages[data-newer]")) {
      jobs.push(htmx.ajax("GET", `/inbox/threads/${threadId}/messages`, { target: "#messages", swap: "outerHTML" }));
    }
    refreshThread = false;
    inFlight += 1;
    Promise.allSettled(jobs).then(() => {
      inFlight -= 1;
      if (!refreshDue && !inFlight && whenRefreshed) { const done = whenRefreshed; whenRefreshed = null; done(); }
    });
  }

  // The server says the catch-up is complete: live once what it brought is on screen.
  function caughtUp() {
    const on = () => { body.dataset.live = "on"; };
    if (refreshDue || inFlight) whenRefreshed = on;
    else on();
  }

  // Opening a thread marks it read: every list shows that, but its messages have not changed.
  const onlyRead = (event) => event.kind === "thread.updated" && event.data
    && Object.keys(event.data).join() === "unread_count";

  // A pane still on its way was drawn before or after an event for its thread: the event found no open
  // thread to refresh, so once the pane lands it is redrawn (a pane drawn after the event is redrawn the same).
  let paneLoading = 0;
  let paneStale = false;
  const paneOf = (detail) => (detail.target && detail.target.id === "thread" &&
    Number((/^\/inbox\/threads\/(\d+)/.exec(detail.pathInfo?.requestPath || "") || [])[1])) || 0;
  document.addEventListener("htmx:beforeRequest", (event) => {
    const threadId = paneOf(event.detail);
    if (threadId) { paneLoading = threadId; paneStale = false; }
  });

  function schedule(event) {
    if (event.thread_id && !onlyRead(event)) {
      if (event.thread_id === openThreadId()) refreshThread = true;
      if (event.thread_id === paneLoading) paneStale = true;
    }
    refreshDue = true;
    clearTimeout(refreshTimer);
    // Many events in a burst (a merge, a busy minute) become one refresh.
    refreshTimer = setTimeout(refresh, 150);
  }

  function showPresence() {
    const slot = document.getElementById("presence");
    if (!slot) return;
    const now = Date.now();
    const names = [];
    for (const [id, who] of viewers) {
      if (who.until < now || who.threadId !== openThreadId() || String(id) === body.dataset.me) continue;
      // A web chat visitor only ever types: shown while they do, in words the agent's language has.
      if (who.visitor) { if (who.typingUntil > now) names.push(slot.dataset.visitorTyping); continue; }
      names.push(`${who.name} · ${who.typingUntil > now ? slot.dataset.typing : slot.dataset.viewing}`);
    }
    slot.textContent = names.join(", ");
  }

  function onEvent(event) {
    if (event.kind === "live.ready") { caughtUp(); return; }
    if (event.kind === "presence") {
      const who = event.data;
      if (who.state === "left") viewers.delete(who.user_id);
      else {
        // "viewing" is repeated every few seconds and after each swap: it must not hide fresh typing.
        const typingUntil = who.state === "typing" ? Date.now() + 6000 : (viewers.get(who.user_id)?.typingUntil || 0);
        viewers.set(who.user_id, { name: who.name, threadId: event.thread_id, typingUntil, visitor: !!who.visitor,
                                   until: Date.now() + 12000 });
      }
      showPresence();
      return;
    }
    if (seen.has(event.id)) return;
    seen.add(event.id);
    if (seen.size > 2000) seen.delete(seen.values().next().value);
    lastId = Math.max(lastId, event.id);
    document.dispatchEvent(new CustomEvent("onethread:live", { detail: event }));
    schedule(event);
    // A customer writing in one of my conversations while I am on another tab or window.
    if (event.kind === "message.created" && event.data.direction === "inbound" && document.hidden &&
        event.data.assignee_id === Number(body.dataset.me) &&
        "Notification" in window && Notification.permission === "granted") {
      new Notification("onethread", { body: body.dataset.newMessage, tag: `thread-${event.thread_id}` });
    }
  }

  function say(presence, what) {
    const threadId = openThreadId();
    if (socket && socket.readyState === WebSocket.OPEN && threadId) {
      socket.send(JSON.stringify({ presence, thread_id: threadId, ...what }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/live?after=${lastId}`);
    socket.onopen = () => { retry = 500; say("viewing"); };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = (closed) => {
      body.dataset.live = "off";
      if (closed.code === 4401) { location.href = "/login"; return; }
      // Back off, then resume from the last event seen: nothing committed meanwhile is lost.
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  setInterval(() => { say("viewing"); showPresence(); }, 5000);
  let typingSent = 0;
  document.addEventListener("input", (event) => {
    const composer = event.target.closest(".composer");
    if (composer && Date.now() - typingSent > 3000) {
      typingSent = Date.now();
      // Reply or note, and on which channel: a web chat visitor is told only of a reply to them.
      say("typing", { kind: composer.querySelector("input[name=kind]:checked")?.value,
                      channel: composer.querySelector("select[name=channel]")?.value });
    }
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!event.detail.target || event.detail.target.id !== "thread") return;
    // A new pane opens on the newest message; a redrawn history keeps the reader's place (search.js).
    showLatest();
    say("viewing");
    if (paneStale && paneLoading === openThreadId()) {
      refreshThread = true;
      refreshDue = true;
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refresh, 0);
    }
    paneLoading = 0;
    paneStale = false;
  });
  window.addEventListener("beforeunload", () => say("left"));
  document.addEventListener("DOMContentLoaded", showLatest);
  connect();
})();
