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
    if (!page || !more.isConnected) { loading.delete(more); return; }
    if (more.dataset.history === "before") {
      const fromBottom = list.scrollHeight - list.scrollTop;
      more.replaceWith(...page.children);
      list.scrollTop = list.scrollHeight - fromBottom;
    } else {
      more.replaceWith(...page.children);
      // At the newest message again: live refreshes may redraw the pane once more.
      if (page.dataset.newer) list.dataset.newer = page.dataset.newer; else delete list.dataset.newer;
    }
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

  // Escape leaves the search box as it is (a search field would otherwise also clear itself).
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target.matches(".topsearch input")) {
      event.preventDefault();
      event.target.blur();
    }
  });
})();
