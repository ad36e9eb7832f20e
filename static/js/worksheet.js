// The worksheet on the exam page: "Normal" fills a section in place, "Write from the
// answers" asks the server for the interpretation its rules give, the draft saves itself
// while the reviewer works, and leaving with unsaved edits asks first.
// Without JavaScript the page still works: "Normal" is a submit button the server acts
// on, and "Save draft" saves.
(function () {
  "use strict";

  var form = document.querySelector("form.findings-form");
  if (!form) { return; }
  var AUTOSAVE_MS = 20000;
  var dirty = false;
  var saving = false;
  var state = form.querySelector(".autosave-state");

  function token() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(text) { if (state) { state.textContent = text; } }

  function markDirty() {
    dirty = true;
    say("Unsaved changes.");
  }

  form.addEventListener("input", markDirty);
  form.addEventListener("change", markDirty);

  // Leaving the page: submitting the form is not leaving.
  var submitting = false;
  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // "Normal": each field of the section takes its normal value (data-normal, JSON).
  function setField(container, value) {
    var inputs = container.querySelectorAll("input, textarea, select");
    inputs.forEach(function (input) {
      if (input.type === "radio") {
        var wanted = typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
        input.checked = input.value === wanted;
      } else if (input.type === "checkbox") {
        input.checked = Array.isArray(value) && value.indexOf(input.value) !== -1;
      } else {
        input.value = value;
      }
    });
  }

  form.querySelectorAll("button.normal-macro").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var section = form.querySelector(
        'fieldset.worksheet-section[data-section="' + button.getAttribute("data-section") + '"]'
      );
      if (!section) { return; }
      section.querySelectorAll("[data-normal]").forEach(function (field) {
        setField(field, JSON.parse(field.getAttribute("data-normal")));
      });
      markDirty();
      say("Normal findings filled in for " + section.querySelector("legend").textContent + ": not saved yet.");
    });
  });

  // "Not obtained" needs a reason: the reason box shows only then.
  form.querySelectorAll(".view-row").forEach(function (row) {
    var reason = row.querySelector("input[type=text]");
    var label = row.querySelector(".view-reason-label");
    function sync() {
      var chosen = row.querySelector("input[type=radio]:checked");
      var show = chosen && chosen.value === "not_obtained";
      if (reason) { reason.hidden = !show; reason.required = !!show; }
      if (label) { label.hidden = !show; }
    }
    row.addEventListener("change", sync);
    sync();
  });

  // The interpretation from the answers (the server holds the rules).
  var build = form.querySelector("button.build-impression");
  var impression = form.querySelector("textarea[name=impression]");
  if (build && impression && form.querySelector("fieldset.worksheet-section")) {
    build.hidden = false;
    build.addEventListener("click", function () {
      fetch(form.getAttribute("data-impression-url"), {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRFToken": token(), Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        if (!result.ok) { say(result.data.error || "Could not write the interpretation."); return; }
        if (impression.value.trim() && impression.value.trim() !== result.data.impression &&
            !window.confirm("Replace the interpretation with the one the answers give?")) {
          return;
        }
        impression.value = result.data.impression;
        markDirty();
      }).catch(function () { say("Could not reach the portal: the interpretation was not written."); });
    });
  }

  // Autosave: the draft as it stands, with the version it was loaded at, so someone
  // else's newer save is never overwritten (a conflict is said, not solved).
  var version = form.querySelector("input[name=version]");
  // A new exam type brings another worksheet: that takes a real save (and a new page).
  var typeSelect = form.querySelector("select[name=exam_type]");
  var typeShown = typeSelect ? typeSelect.value : "";
  if (typeSelect) {
    typeSelect.addEventListener("change", function () {
      if (typeSelect.value !== typeShown) {
        say("Save the draft to switch to this exam type's worksheet; the answers that fit it are kept.");
      }
    });
  }
  function autosave() {
    if (!dirty || saving || submitting) { return; }
    if (typeSelect && typeSelect.value !== typeShown) { return; }
    saving = true;
    var body = new FormData(form);
    fetch(form.getAttribute("data-autosave-url"), {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": token(), "X-Portal-Autosave": "1", Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      if (result.status === 200) {
        if (version) { version.value = result.data.version; }
        dirty = false;
        var when = new Date(result.data.saved_at);
        say("Draft saved automatically at " + when.toLocaleTimeString() + ".");
      } else if (result.status === 409) {
        say(result.data.error + " (not saved automatically)");
      } else {
        say("Not saved automatically: correct the fields marked when you save.");
      }
    }).catch(function () {
      say("Not saved automatically: the portal could not be reached.");
    }).then(function () { saving = false; });
  }
  window.setInterval(autosave, AUTOSAVE_MS);
})();
