// The exam type editor: the worksheet preview follows the definition as it is typed.
// The server draws the preview (POST /institution/exam-types/preview/, the same template
// as the page's "Preview" button), so it shows exactly what the engine reads; without
// JavaScript that button does the same with a reload.
(function () {
  "use strict";

  var form = document.querySelector("form[data-preview-url]");
  var target = document.getElementById("worksheet-preview");
  if (!form || !target || !window.fetch) { return; }
  var textarea = form.querySelector("textarea[name='definition']");
  var token = form.querySelector("input[name='csrfmiddlewaretoken']");
  if (!textarea || !token) { return; }
  var url = form.getAttribute("data-preview-url");
  var WAIT_MS = 400;
  var timer = null;
  var pending = null;
  var sent = 0;

  function show(html) {
    // The fragment is the portal's own template output; parsed, not evaluated.
    var fragment = new DOMParser().parseFromString(html, "text/html");
    target.replaceChildren.apply(target, Array.from(fragment.body.childNodes));
  }

  function note(text) {
    var p = document.createElement("p");
    p.className = "form-errors";
    p.textContent = text;
    target.replaceChildren(p);
  }

  function refresh() {
    if (pending) { pending.abort(); }
    pending = new AbortController();
    var number = ++sent;
    var body = new FormData();
    body.append("definition", textarea.value);
    target.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": token.value, Accept: "text/html" },
      credentials: "same-origin",
      cache: "no-store",
      signal: pending.signal,
    }).then(function (response) {
      // 200: the worksheet; 400: the definition's errors, listed. Anything else (a
      // session that ended, a server restart) is said instead of a preview.
      if (response.status === 200 || response.status === 400) { return response.text(); }
      throw new Error("The preview is not available (HTTP " + response.status + ").");
    }).then(function (html) {
      if (number === sent) { show(html); }
    }).catch(function (error) {
      if (error.name !== "AbortError" && number === sent) { note(error.message); }
    }).finally(function () {
      if (number === sent) { target.removeAttribute("aria-busy"); }
    });
  }

  textarea.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, WAIT_MS);
  });
})();
