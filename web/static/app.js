// onethread's few behaviours htmx does not cover. No build step: plain, small, deferred.
(function () {
  "use strict";

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

  document.addEventListener("DOMContentLoaded", showLatest);
  document.addEventListener("htmx:afterSettle", showLatest);
})();
