// Small enhancements for every page; each page works without them.
"use strict";

// A form with data-confirm="Question?" asks before submitting (removing a member,
// cancelling an invitation): one mis-click should not cost someone their access.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : null;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// Follow work in progress without a reload (a report being sent, captures downloading, a
// link waiting for confirmation): fetch `url()` as JSON every `every` ms for as long as
// `handle(data)` answers true (or a promise of true). A failed request (a restart, the
// network) is tried again five times later. Marked as background: polling must not keep
// an idle session signed in.
window.portalPoll = (url, handle, every) => {
  const headers = { Accept: "application/json", "X-Portal-Background": "1" };
  const poll = () => {
    fetch(url(), { headers, credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) { throw new Error(`HTTP ${response.status}`); }
        return response.json();
      })
      .then(handle)
      .then((again) => { if (again) { window.setTimeout(poll, every); } })
      .catch(() => window.setTimeout(poll, every * 5));
  };
  window.setTimeout(poll, every);
};
