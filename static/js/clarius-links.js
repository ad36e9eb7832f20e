// "Your Clarius links" while a link waits for Clarius' confirmation: each link's state
// and what happens next follow links.json every 3 s, until none is waiting. Without
// JavaScript a reload shows the same.
(function () {
  "use strict";

  var table = document.querySelector("[data-links-url]");
  if (!table) { return; }
  var url = table.getAttribute("data-links-url");
  var POLL_MS = 3000;
  // Marked as background: polling must not keep an idle session signed in.
  var HEADERS = { Accept: "application/json", "X-Portal-Background": "1" };

  function update(data) {
    data.links.forEach(function (link) {
      var row = table.querySelector('tr[data-link-id="' + link.id + '"]');
      if (!row) { return; }
      row.setAttribute("data-state", link.state);
      var state = row.querySelector('[data-field="state"]');
      state.textContent = link.state_label;
      state.className = "state state-" + link.state;
      var help = row.querySelector('[data-field="help"]');
      if (help.textContent !== link.help) { help.textContent = link.help; }
      help.hidden = !link.help;
      // Unlink is offered for a waiting or confirmed link only.
      var unlink = row.querySelector("form");
      if (unlink) { unlink.hidden = link.state !== "pending" && link.state !== "confirmed"; }
    });
  }

  function poll() {
    fetch(url, { headers: HEADERS, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        update(data);
        if (data.waiting) { window.setTimeout(poll, POLL_MS); }
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 5); });
  }

  window.setTimeout(poll, POLL_MS);
})();
