// Search landings and history paging in the thread pane. Plain, small, deferred; no build step.
(function () {
  "use strict";

  const loading = new WeakSet();

  // A page of history, fetched as the reader nears either end of what is shown. Earlier messages
  // go in above the reader without moving what they are looking at.
  async function load(more) {
    if (loading.has(more)) return;
    loading.add(more);
    const list = more.parentElement;
    let page = null;
    try {
      const response = await fetch(more.dataset.href, { credentials: "same-origin" });
      if (response.ok) {
        page = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("messages");
      }
    } catch (error) { /* offline for a moment: the next scroll tries again */ }
    if (!more.isConnected) { check(document.getElementById("messages")); return; }  // redrawn meanwhile
    if (!page) { loading.delete(more); return; }
    if (more.dataset.history === "before") {
      const fromBottom = list.scrollHeight - list.scrollTop;
      more.replaceWith(...page.children);
      list.scrollTop = list.scrollHeight - fromBottom;
    } else {
      more.replaceWith(...page.children);
      // At the newest message again: live refreshes may redraw the pane once more.
      if (page.dataset.newer) list.dataset.newer = page.dataset.newer; else delete list.dataset.newer;
    }
    list.dataset.paged = "";
    check(list);
  }

  function check(list) {
    if (!list) return;
    const before = list.querySelector(":scope > .history-more[data-history=before]");
    if (before && list.scrollTop < 300) load(before);
    const after = list.querySelector(":scope > .history-more[data-history=after]");
    if (after && list.scrollHeight - list.scrollTop - list.clientHeight < 300) load(after);
  }

  document.addEventListener("scroll", (event) => {
    if (event.target.id === "messages") check(event.target);
  }, true);

  // Opened from a search hit: bring that message into view and let it glow for a moment.
  function land() {
    const list = document.getElementById("messages");
    const landed = list && list.querySelector(".message.landed");
    if (landed) {
      landed.scrollIntoView({ block: "center" });
      landed.classList.add("flash");
    }
    requestAnimationFrame(() => check(list));
  }
  document.addEventListener("DOMContentLoaded", land);
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "thread") land();
  });

  // A live refresh redraws the history from the oldest message the reader scrolled back to, not just
  // the newest page, and keeps their place: at the end it follows new messages, elsewhere it stays.
  const oldestShown = (list) => {
    const first = list && list.hasAttribute("data-paged") && list.querySelector(".message[data-message-id]");
    return first ? first.dataset.messageId : undefined;
  };
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.verb !== "get" || !/^\/inbox\/threads\/\d+\/messages$/.test(event.detail.path)) return;
    const since = oldestShown(document.getElementById("messages"));
    if (since) event.detail.parameters.since = since;
  });
  let place = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const list = event.detail.target;
    if (!list || list.id !== "messages") return;
    const asked = event.detail.requestConfig;
    if (asked && oldestShown(list) !== asked.parameters.since) {
      // The reader scrolled back further while this was on its way: ask for all they now hold.
      event.detail.shouldSwap = false;
      htmx.ajax("GET", asked.path, { target: "#messages", swap: "outerHTML" });
      return;
    }
    place = { top: list.scrollTop, atEnd: list.scrollHeight - list.scrollTop - list.clientHeight < 40,
      // What the reader opened ("Show full message", an edit's original) stays open: by message and kind.
      opened: [...list.querySelectorAll(".message[id] details[open]")].map((d) => [d.closest(".message").id, d.className]) };
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    const list = document.getElementById("messages");
    if (!place || !event.detail.target || event.detail.target.id !== "messages" || !list) return;
    for (const [id, kind] of place.opened) {
      const again = document.getElementById(id)?.querySelector(`details.${CSS.escape(kind)}`);
      if (again) again.open = true;
    }
    list.scrollTop = place.atEnd ? list.scrollHeight : place.top;
    place = null;
  });
  // A redraw lands without a scroll event of its own (and one still on its way to the list it replaced
  // is lost): a reader who was at either end must still get the next page without scrolling again.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.detail.target && event.detail.target.id === "messages") {
      requestAnimationFrame(() => check(document.getElementById("messages")));
    }
  });

  // Escape leaves the search box as it is (a search field would otherwise also clear itself).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target.matches(".topsearch input")) {
      event.preventDefault();
      event.target.blur();
    }
  });
})();
