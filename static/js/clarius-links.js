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

  window.portalPoll(function () { return url; }, function (data) {
    update(data);
    return data.waiting;
  }, POLL_MS);
})();
