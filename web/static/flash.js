// Errors answered to htmx land in #flash as a toast (web/errors.py sets HX-Retarget); htmx 2
// does not swap 4xx answers by itself, so let those that were aimed at #flash through.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#flash") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  let timer = 0;
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id !== "flash") return;
    clearTimeout(timer);
    // Long enough to read a sentence twice; the close button is there for the impatient.
    timer = setTimeout(() => { document.getElementById("flash").replaceChildren(); }, 8000);
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest(".toast-close")) event.target.closest(".toast").remove();
  });
})();
