// The list's bulk selection, the thread's action menus and their keys (x, s, t), and errors shown inline.
(function () {
  "use strict";

  const picked = new Set(); // thread ids, kept across live refreshes of the list
  let lastPicked = null;

  const boxes = () => [...document.querySelectorAll("#list .pick")];

  function showToolbar() {
    const bar = document.querySelector("#list .bulk");
    if (!bar) return;
    for (const box of boxes()) box.checked = picked.has(box.value);
    const all = document.querySelector("#list .pick-all");
    const loaded = boxes();
    if (all) all.checked = loaded.length > 0 && loaded.every((box) => box.checked);
    const count = bar.querySelector(".bulk-count");
    count.textContent = `${picked.size} ${count.dataset.label}`;
    bar.hidden = picked.size === 0;
    for (const select of bar.querySelectorAll("select")) select.value = "";
  }

  function pick(box, on) {
    box.checked = on;
    if (on) picked.add(box.value); else picked.delete(box.value);
  }

  // Capture phase: a click on a checkbox selects, it does not open the conversation around it.
  document.addEventListener("click", function (event) {
    const box = event.target.closest("#list .pick");
    if (!box) return;
    event.stopPropagation();
    const all = boxes();
    if (event.shiftKey && lastPicked !== null) {
      const from = all.indexOf(lastPicked), to = all.indexOf(box);
      if (from >= 0 && to >= 0) {
        for (const one of all.slice(Math.min(from, to), Math.max(from, to) + 1)) pick(one, box.checked);
      }
    }
    pick(box, box.checked);
    lastPicked = box;
    showToolbar();
  }, true);

  document.addEventListener("change", function (event) {
    if (event.target.matches("#list .pick-all")) {
      for (const box of boxes()) pick(box, event.target.checked);
      showToolbar();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("#list .bulk-clear")) { picked.clear(); showToolbar(); }
    // A click outside an open menu closes it, as menus do.
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      if (!menu.contains(event.target)) menu.open = false;
    }
  });

  function openMenu(selector) {
    const menu = document.querySelector(selector);
    if (!menu) return;
    menu.open = true;
    const first = menu.querySelector(".menu-body button, .menu-body input");
    if (first) first.focus();
  }

  const keys = {
    x: () => {
      const open = document.querySelector("#thread[data-thread-id]")?.dataset.threadId;
      const box = document.querySelector("#list .conversation.selected .pick") ||
        document.querySelector(`#list .conversation[data-thread-id="${open}"] .pick`);
      if (box) { pick(box, !box.checked); lastPicked = box; showToolbar(); }
    },
    s: () => openMenu("#thread .snooze-menu"),
    t: () => openMenu("#thread .tags-menu"),
  };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // The name saves on Enter by leaving the field: its change event posts it, once.
    if (event.key === "Enter" && event.target.closest(".name-edit input")) {
      event.preventDefault();
      event.target.blur();
      return;
    }
    if (event.key === "Escape") {
      for (const menu of document.querySelectorAll("details.menu[open]")) menu.open = false;
    }
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const action = keys[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  // A live refresh of the list keeps every row the agent had scrolled to, not only the first page.
  document.addEventListener("htmx:configRequest", function (event) {
    const path = event.detail.path || "";
    if (path.startsWith("/inbox/list") && !path.includes("after=")) {
      const loaded = document.querySelectorAll("#list .conversation").length;
      if (loaded > 50) event.detail.parameters.loaded = loaded;
    }
  });

  // A refresh replaces the list: the agent stays where they had scrolled to.
  let listScroll = 0;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "list") listScroll = event.detail.target.scrollTop;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const list = document.getElementById("list");
    if (list && event.detail.target && event.detail.target.id === "list") list.scrollTop = listScroll;
    // A refresh asked for before the open conversation changed would mark none (or the old one) as
    // open: the row of the conversation on screen is the selected one, whichever swap lands last.
    const open = document.querySelector("#thread[data-thread-id]")?.dataset.threadId;
    const row = open && document.querySelector(`#list .conversation[data-thread-id="${open}"]`);
    if (row && !row.classList.contains("selected")) {
      document.querySelectorAll("#list .conversation.selected").forEach((el) => el.classList.remove("selected"));
      row.classList.add("selected");
    }
    const target = event.detail.target;
    if (target && (target.id === "list" || target.closest?.("#list") || target.classList?.contains("more"))) {
      showToolbar();
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const path = event.detail.requestConfig?.path || "";
    if (path.startsWith("/inbox/bulk") && event.detail.successful) { picked.clear(); lastPicked = null; showToolbar(); }
  });
})();
