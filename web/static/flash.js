// Errors answered to htmx land in #flash as a toast (web/errors.py sets HX-Retarget); htmx 2
// does not swap 4xx answers by itself, so let those the server aimed somewhere through: #flash, or
// a form's own place, such as the sidebar showing why a change was refused beside its form.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  let timer = 0;
  function fadeLater() {
    clearTimeout(timer);
    // Long enough to read a sentence twice; the close button is there for the impatient.
    timer = setTimeout(() => { document.getElementById("flash").replaceChildren(); }, 8000);
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "flash") fadeLater();
  });

  // Anything else that failed (no answer, a proxy's error page) still says so instead of doing nothing.
  function fallback(event) {
    const flash = document.getElementById("flash");
    if (!flash) return;
    const toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("role", "alert");
    const text = document.createElement("span");
    const status = event.detail.xhr && event.detail.xhr.status;
    text.textContent = status ? `${flash.dataset.failed} (${status})` : flash.dataset.offline;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", flash.dataset.dismiss);
    close.textContent = "×";
    toast.append(text, close);
    flash.replaceChildren(toast);
    fadeLater();
  }
  document.addEventListener("htmx:responseError", fallback);
  document.addEventListener("htmx:sendError", fallback);

  document.addEventListener("click", function (event) {
    if (event.target.closest(".toast-close")) event.target.closest(".toast").remove();
  });
})();
