// The API reference (portal/api/templates/api/swagger_ui.html): what Swagger UI's own
// markup lacks to pass axe-core, added as it draws (it redraws parts as the reader opens
// operations, so every change it makes is looked at again).
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  if (!root || typeof MutationObserver !== "function") { return; }

  function selectName(select) {
    var row = select.closest("tr[data-param-name]");
    if (row) { return "Value of " + row.getAttribute("data-param-name"); }
    if (select.closest(".examples-select")) { return "Example"; }
    if (select.closest(".content-type-wrapper, .body-param-content-type")) { return "Media type"; }
    if (select.closest(".servers")) { return "Server"; }
    return "Choice";
  }

  // Swagger UI's parts outside its <main>, each a named region (no content outside one).
  var REGIONS = [
    [".information-container", "About the API"],
    [".scheme-container", "Authorization"],
    [".models", "Schemas"],
  ];

  function mend() {
    // Its <main> (the operations) is the page's main landmark once it is there.
    var loading = document.getElementById("api-docs-loading");
    if (loading && root.querySelector("main")) { loading.remove(); }
    REGIONS.forEach(function (pair) {
      root.querySelectorAll(pair[0]).forEach(function (part) {
        if (part.getAttribute("role") !== "region") {
          part.setAttribute("role", "region");
          part.setAttribute("aria-label", pair[1]);
        }
      });
    });
    // Its title is an <h1> under the page's own: one level down, so the tags' <h3> follow.
    root.querySelectorAll(".info h1.title").forEach(function (title) {
      if (title.getAttribute("aria-level") !== "2") {
        title.setAttribute("role", "heading");
        title.setAttribute("aria-level", "2");
      }
    });
    root.querySelectorAll("select:not([aria-label])").forEach(function (select) {
      if (!select.labels || select.labels.length === 0) {
        select.setAttribute("aria-label", selectName(select));
      }
    });
    // Code samples scroll sideways: reachable by keyboard.
    root.querySelectorAll(
      "pre.microlight:not([tabindex]), .highlight-code > pre:not([tabindex]), " +
      ".responses-inner:not([tabindex])"
    ).forEach(function (box) { box.setAttribute("tabindex", "0"); });
  }

  var pending = false;
  new MutationObserver(function () {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; mend(); });
  }).observe(root, { childList: true, subtree: true });
})();
