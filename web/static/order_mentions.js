// An order number the customer wrote links to that order in the sidebar: scroll it into view and
// mark it for a moment, without touching the URL (the inbox keeps its own state in the query).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.order-mention");
    if (!link) return;
    const order = document.getElementById(`order-${link.dataset.orderId}`);
    if (!order) return;
    event.preventDefault();
    order.scrollIntoView({ block: "center", behavior: "smooth" });
    order.classList.remove("highlighted");
    // Reflow, so clicking the same mention twice plays the mark again.
    void order.offsetWidth;
    order.classList.add("highlighted");
  });
})();
