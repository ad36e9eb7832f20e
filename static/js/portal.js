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
