// The composer's behaviours: `/` canned responses, `@` mentions, files, the messaging-window notice,
// and the toast when a colleague mentions you. Plain, deferred, no build step.
(function () {
  "use strict";

  // ---- `/` and `@` suggestions: a listbox under the text box, driven from the keyboard. ----
  const open = { form: null, textarea: null, start: -1 };
  let asked = 0;
  let typingTimer = null;

  const kindOf = (form) => form.querySelector("input[name=kind]:checked")?.value;
  const popupOf = (form) => form.querySelector(".suggest-popup");
  const options = () => (open.form ? [...popupOf(open.form).querySelectorAll("[role=option]")] : []);

  // The word being typed, if it starts with / or @ (at the start of the text or after a space).
  function wordAtCaret(textarea) {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const match = /(^|\s)([/@])([^\s/@]*)$/.exec(before);
    return match ? { trigger: match[2], query: match[3], start: before.length - match[3].length - 1 } : null;
  }

  function close() {
    if (!open.form) return;
    const popup = popupOf(open.form);
    popup.hidden = true;
    popup.innerHTML = "";
    open.textarea.setAttribute("aria-expanded", "false");
    open.textarea.removeAttribute("aria-activedescendant");
    open.form = null;
  }

  function select(option) {
    for (const other of options()) other.setAttribute("aria-selected", other === option ? "true" : "false");
    if (!option) return;
    open.textarea.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({ block: "nearest" });
  }

  async function suggest(textarea) {
    const form = textarea.closest(".composer");
    const word = wordAtCaret(textarea);
    if (!word || (word.trigger === "@" && kindOf(form) !== "note")) { close(); return; }
    const url = word.trigger === "/" ? form.dataset.cannedUrl : form.dataset.mentionsUrl;
    const mine = ++asked;
    const response = await fetch(`${url}?q=${encodeURIComponent(word.query)}`, { headers: { "HX-Request": "true" } });
    if (mine !== asked || !response.ok || !document.contains(textarea)) return;
    if (open.form && open.form !== form) close();
    const popup = popupOf(form);
    popup.innerHTML = await response.text();
    popup.hidden = false;
    Object.assign(open, { form, textarea, start: word.start });
    textarea.setAttribute("aria-expanded", "true");
    select(options()[0]);
  }

  function insert(option) {
    const { textarea, start } = open;
    const text = option.dataset.insert;
    const end = textarea.selectionStart;
    textarea.value = textarea.value.slice(0, start) + text + textarea.value.slice(end);
    const caret = start + text.length;
    close();
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
  }

  document.addEventListener("input", (event) => {
    if (!event.target.matches(".composer textarea")) return;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => suggest(event.target), 60);
  });

  // Capture phase: runs before app.js's shortcuts, which would otherwise blur the box on Esc.
  document.addEventListener("keydown", (event) => {
    if (!open.form || event.target !== open.textarea) return;
    const all = options();
    const at = all.findIndex((option) => option.getAttribute("aria-selected") === "true");
    let handled = true;
    if (event.key === "ArrowDown" && all.length) select(all[(at + 1) % all.length]);
    else if (event.key === "ArrowUp" && all.length) select(all[(at - 1 + all.length) % all.length]);
    else if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey && at >= 0) insert(all[at]);
    else if (event.key === "Escape") close();
    else handled = false;
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  // mousedown, not click: the text box keeps its focus and caret.
  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest(".suggest [role=option]");
    if (option && open.form) { event.preventDefault(); insert(option); return; }
    if (open.form && !event.target.closest(".composer-input")) close();
  });

  // ---- The channel picker and the messaging-window notice. ----
  function showWindow(form) {
    const channel = form.querySelector("select[name=channel]")?.value;
    const note = kindOf(form) === "note";
    form.querySelectorAll("[data-window-channel]").forEach((notice) => {
      notice.hidden = note || notice.dataset.windowChannel !== channel;
    });
    form.querySelectorAll("[data-channel-icon]").forEach((icon) => { icon.hidden = icon.dataset.channelIcon !== channel; });
  }

  function listFiles(form) {
    const list = form.querySelector(".chosen-files");
    const input = form.querySelector("input[name=files]");
    list.replaceChildren(...[...input.files].map((file) => {
      const item = document.createElement("li");
      item.textContent = `${file.name} · ${Math.max(1, Math.round(file.size / 1024))} kB`;
      return item;
    }));
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest(".composer");
    if (!form) return;
    if (event.target.name === "channel" || event.target.name === "kind") showWindow(form);
    if (event.target.name === "kind") close();
    if (event.target.name === "files") listFiles(form);
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-switch-channel]");
    if (!button) return;
    const form = button.closest(".composer");
    form.querySelector("select[name=channel]").value = button.dataset.switchChannel;
    const reply = form.querySelector("input[name=kind][value=reply]");
    if (reply && !reply.disabled) reply.checked = true;
    showWindow(form);
    form.querySelector("textarea").focus();
  });

  // Files dropped on the composer join its file input.
  document.addEventListener("dragover", (event) => {
    const form = event.target.closest?.(".composer");
    if (!form) return;
    event.preventDefault();
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", (event) => event.target.closest?.(".composer")?.classList.remove("dropping"));
  document.addEventListener("drop", (event) => {
    const form = event.target.closest?.(".composer");
    if (!form || !event.dataTransfer.files.length) return;
    event.preventDefault();
    form.classList.remove("dropping");
    form.querySelector("input[name=files]").files = event.dataTransfer.files;
    listFiles(form);
  });

  // Asked once, on the first use of the composer: browsers only allow it after a gesture.
  document.addEventListener("focusin", (event) => {
    const form = event.target.closest(".composer");
    // The r/n shortcuts pick Reply or Note without a change event: bring the notice in line here.
    if (form) showWindow(form);
    if (form && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  });

  // ---- A colleague mentioned me: a toast here, a desktop notification when allowed. ----
  function toast(event) {
    const template = document.getElementById("mention-toast");
    if (!template) return;
    let shelf = document.querySelector(".toasts");
    if (!shelf) {
      shelf = document.createElement("div");
      shelf.className = "toasts";
      shelf.setAttribute("aria-live", "polite");
      document.body.append(shelf);
    }
    const card = template.content.firstElementChild.cloneNode(true);
    const line = template.dataset.text.replace("%(author)s", event.data.author_name || "?")
      .replace("%(customer)s", event.data.customer_name || "?");
    card.querySelector("[data-slot=line]").textContent = line;
    card.querySelector("[data-slot=preview]").textContent = event.data.preview || "";
    card.querySelector("a").href = `/inbox/threads/${event.thread_id}`;
    card.querySelector("button").addEventListener("click", () => card.remove());
    shelf.append(card);
    setTimeout(() => card.remove(), 15000);
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification(line, { body: event.data.preview || "", tag: `mention-${event.data.message_id}` });
    }
  }

  document.addEventListener("onethread:live", (event) => {
    const live = event.detail;
    if (live.kind !== "note.mention") return;
    const me = Number(document.body.dataset.me);
    if ((live.data.user_ids || []).includes(me)) toast(live);
  });

  document.addEventListener("htmx:afterSettle", () => document.querySelectorAll(".composer").forEach(showWindow));
})();
