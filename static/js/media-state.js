// The exam page while its captures download: the words above the gallery (how many are
// still coming, which failed, why, what happens next) and each missing capture's place
// follow media.json every 3 s; a capture that has arrived is put in its place from a
// fresh copy of the page (the rest of the gallery, key-image choices included, is left
// as it is). Without JavaScript a reload shows the same.
(function () {
  "use strict";

  var root = document.querySelector("[data-media-url]");
  if (!root || root.getAttribute("data-in-progress") !== "1") { return; }
  var url = root.getAttribute("data-media-url");
  var POLL_MS = 3000;
  // Marked as background: polling must not keep an idle session signed in.

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll(".gallery-item[data-capture-id]"));
  }

  function missingIds() {
    return items().filter(function (item) {
      return item.getAttribute("data-capture-state") !== "done";
    }).map(function (item) { return item.getAttribute("data-capture-id"); });
  }

  function showLines(data) {
    var status = document.getElementById("exam-status");
    if (status && data.exam_status_label) { status.textContent = data.exam_status_label; }
    while (root.firstChild) { root.removeChild(root.firstChild); }
    data.lines.forEach(function (line) {
      var p = document.createElement("p");
      p.className = "media-" + line.tone;
      p.textContent = line.text;
      root.appendChild(p);
    });
    root.hidden = data.lines.length === 0;
    root.setAttribute("data-tone", data.tone);
    root.setAttribute("data-in-progress", data.in_progress ? "1" : "");
  }

  function showCapture(item, capture) {
    var placeholder = item.querySelector('[data-field="capture-state"]');
    if (!placeholder) { return; }
    if (placeholder.textContent !== capture.text) { placeholder.textContent = capture.text; }
    placeholder.className = "gallery-placeholder" +
      (capture.tone === "failed" ? " error" : capture.tone === "retrying" ? " retrying" : "");
    item.setAttribute("data-capture-state", capture.state);
  }

  // Captures that arrived: their markup comes from the page as the server draws it now.
  function putInPlace(ids) {
    return fetch(window.location.href, { headers: { "X-Portal-Background": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ids.forEach(function (id) {
          var selector = '.gallery-item[data-capture-id="' + id + '"]';
          var item = document.querySelector(selector);
          var newItem = fresh.querySelector(selector);
          if (!item || !newItem || newItem.getAttribute("data-capture-state") !== "done") { return; }
          var placeholder = item.querySelector('[data-field="capture-state"]');
          var media = newItem.firstElementChild;
          if (placeholder && media) { placeholder.replaceWith(document.importNode(media, true)); }
          var detail = item.querySelector('[data-field="capture-detail"]');
          if (detail) { detail.remove(); }
          var caption = item.querySelector(".caption");
          var newCaption = newItem.querySelector(".caption");
          if (caption && newCaption) { caption.replaceWith(document.importNode(newCaption, true)); }
          item.setAttribute("data-capture-state", "done");
        });
        // For scripts that list the gallery's captures (the viewer).
        document.dispatchEvent(new CustomEvent("portal:captures-arrived", { detail: { ids: ids } }));
      });
  }

  function handle(data) {
    showLines(data);
    var arrived = [];
    data.captures.forEach(function (capture) {
      var item = document.querySelector('.gallery-item[data-capture-id="' + capture.id + '"]');
      if (!item) { return; }
      if (capture.state === "done") { arrived.push(capture.id); } else { showCapture(item, capture); }
    });
    // Arrived captures are put in place before the next look (a failure there is retried).
    var more = Boolean(data.in_progress);
    return arrived.length ? putInPlace(arrived).then(function () { return more; }) : more;
  }

  window.portalPoll(function () {
    return url + "?captures=" + missingIds().join(",");
  }, handle, POLL_MS);
})();
