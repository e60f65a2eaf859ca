// Admin pages: copy a webhook URL, and preview a canned response as an agent would insert it.
(function () {
  "use strict";

  async function copy(field) {
    try {
      await navigator.clipboard.writeText(field.value);
    } catch (error) {
      // No clipboard API (plain http, an old browser): select the text for Ctrl+C and try the old way.
      field.focus();
      field.select();
      if (!document.execCommand || !document.execCommand("copy")) return false;
    }
    return true;
  }

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.querySelector(button.dataset.copy);
    const status = button.parentElement.querySelector(".copied");
    const done = await copy(field);
    if (status) {
      status.textContent = done ? (document.documentElement.lang === "tr" ? "Kopyalandı" : "Copied")
        : (document.documentElement.lang === "tr" ? "Seçildi: Ctrl+C ile kopyalayın" : "Selected: press Ctrl+C");
      setTimeout(() => { status.textContent = ""; }, 2500);
    }
  });

  // The same placeholders inbox/canned.py fills; a name it does not know stays as written there too.
  const SAMPLE = { "customer.first_name": "Ayşe", "customer.name": "Ayşe Yılmaz", "order.number": "1042",
    "order.status": "shipped" };
  function preview(textarea) {
    const out = textarea.closest("form").querySelector("[data-canned-preview]");
    if (out) out.textContent = textarea.value.replace(/\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}/g, (all, name) => SAMPLE[name] || all);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-canned-body]")) preview(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-canned-body]").forEach(preview);
  });
})();
