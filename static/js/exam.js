// The exam page: the report list kept up to date (the capture viewer is viewer.js)
// while a report is on its way (its PDF being made, then sent to Clarius: polling
// reports.json every 2 s, no reload).
// Without JavaScript the page still works: images open in a tab, a reload shows states.
(function () {
  "use strict";

  // Report states ---------------------------------------------------------------------
  var page = document.querySelector("[data-reports-url]");
  if (!page) { return; }
  var url = page.getAttribute("data-reports-url");
  var POLL_MS = 2000;

  function anyPending() {
    return document.querySelector(
      '.report-item[data-state="generating"], .report-item[data-state="pending"]'
    ) !== null;
  }

  function field(item, name) {
    return item.querySelector('[data-field="' + name + '"]');
  }

  function update(data) {
    var state = document.getElementById("review-state");
    if (state) { state.textContent = data.review_state_label; }
    data.reports.forEach(function (report) {
      var item = document.querySelector('.report-item[data-report-id="' + report.id + '"]');
      if (!item) { return; }
      item.setAttribute("data-state", report.state);
      item.setAttribute("data-tone", report.tone);
      // The badge and the sentence (what went wrong, what happens next) are the
      // server's words (portal/reports/states.py), as on the page when it was drawn.
      var badge = field(item, "state");
      badge.textContent = report.badge;
      badge.className = "push-state push-" + report.tone;
      var summary = field(item, "summary");
      if (summary) {
        if (summary.textContent !== report.summary) { summary.textContent = report.summary; }
        summary.className = "push-summary push-summary-" + report.tone;
        summary.hidden = !report.summary;
      }
      // The raw error: technical detail, for reviewers and administrators only.
      var detail = field(item, "detail");
      var error = field(item, "last_error");
      if (detail && error) {
        error.textContent = report.last_error.length > 300
          ? report.last_error.slice(0, 299) + "…" : report.last_error;
        detail.hidden = !report.last_error || report.state === "pushed";
      }
      var retry = field(item, "retry");
      if (retry) { retry.hidden = !report.can_retry; }
      // The download link once the PDF is made; the name alone until then.
      var download = field(item, "download");
      var title = field(item, "title");
      if (download && title) {
        download.hidden = !report.has_pdf;
        title.hidden = report.has_pdf;
      }
    });
  }

  if (anyPending()) {
    window.portalPoll(function () { return url; }, function (data) {
      update(data);
      return data.pending;
    }, POLL_MS);
  }
})();
