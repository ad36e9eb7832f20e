// The idle-timeout warning: a minute before the session would be signed out for
// inactivity, a dialog offers "Stay signed in"; when the deadline passes, the tab goes to
// the login page. The deadline is asked of the server (a background request, which does
// not count as activity) before warning and before leaving, so activity in another tab
// keeps this one signed in too.
(function () {
  "use strict";

  var box = document.getElementById("session-timeout");
  if (!box || !window.fetch) { return; }
  var config = box.dataset;
  var stay = box.querySelector("[data-stay]");
  var timer = null;
  var ticker = null;
  var endsAt = 0; // Date.now() milliseconds at which the session ends

  function clearTimers() {
    window.clearTimeout(timer);
    window.clearInterval(ticker);
    timer = ticker = null;
  }

  function leave() {
    clearTimers();
    var here = window.location.pathname + window.location.search;
    window.location.assign(config.expiredUrl + "?next=" + encodeURIComponent(here));
  }

  var focusBefore = null; // where the keyboard was before the warning took it

  function hide() {
    if (box.hidden) { return; }
    var hadFocus = box.contains(document.activeElement);
    box.hidden = true;
    if (hadFocus && focusBefore && document.contains(focusBefore)) { focusBefore.focus(); }
    focusBefore = null;
  }

  function countdown() {
    var seconds = Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
    box.querySelectorAll("[data-countdown]").forEach(function (node) {
      node.textContent = String(seconds);
    });
  }

  function show(limit) {
    var absolute = limit === "absolute";
    box.querySelector('[data-message="idle"]').hidden = absolute;
    box.querySelector('[data-message="absolute"]').hidden = !absolute;
    stay.hidden = absolute;
    countdown();
    ticker = window.setInterval(countdown, 1000);
    if (box.hidden) {
      focusBefore = document.activeElement;
      box.hidden = false;
      if (!absolute) { stay.focus(); }
    }
  }

  // Plan the next step from the seconds the server says are left.
  function plan(data) {
    clearTimers();
    if (!data || !data.authenticated || data.seconds_left <= 0) { leave(); return; }
    var warningMs = data.warning_seconds * 1000;
    endsAt = Date.now() + data.seconds_left * 1000;
    var untilWarning = data.seconds_left * 1000 - warningMs;
    if (untilWarning > 0) {
      hide();
      timer = window.setTimeout(check, untilWarning);
    } else {
      show(data.limit);
      timer = window.setTimeout(check, data.seconds_left * 1000);
    }
  }

  function answer(response) {
    if (response.status === 401 || response.status === 403) { return { authenticated: false }; }
    if (!response.ok) { throw new Error("HTTP " + response.status); }
    return response.json();
  }

  function retryLater() {
    // The server did not answer (a restart, the network): past the deadline, leave
    // anyway; the server signs the session out on the next request regardless.
    clearTimers();
    if (Date.now() >= endsAt) { leave(); return; }
    timer = window.setTimeout(check, 5000);
  }

  function check() {
    fetch(config.statusUrl, {
      headers: { Accept: "application/json", "X-Portal-Background": "1" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(answer).then(plan).catch(retryLater);
  }

  stay.addEventListener("click", function () {
    fetch(config.keepAliveUrl, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": config.csrfToken },
      credentials: "same-origin",
      cache: "no-store",
    }).then(answer).then(plan).catch(retryLater);
  });

  // Timers stall in a sleeping laptop, a hidden tab or the back-forward cache: look
  // again as soon as the page is seen.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { check(); }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { check(); }
  });

  plan({
    authenticated: true,
    seconds_left: parseInt(config.secondsLeft, 10),
    warning_seconds: parseInt(config.warningSeconds, 10),
    limit: config.limit,
  });
})();
