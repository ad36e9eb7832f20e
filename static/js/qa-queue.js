// The QA queue's bulk bar (templates/qa/queue.html): "Select all on this page" ticks the
// reviews listed, and the count says how many are ticked. Without JavaScript the boxes
// are ticked one by one and the bar works the same.
(function () {
  "use strict";
  const form = document.getElementById("qa-bulk-form");
  if (!form) { return; }
  const all = form.querySelector("input[data-qa-select-all]");
  const count = form.querySelector("[data-qa-count]");
  const boxes = () => Array.from(document.querySelectorAll('input[name="review"][form="qa-bulk-form"]'));

  function update() {
    const ticked = boxes().filter((box) => box.checked).length;
    if (count) { count.textContent = ticked ? ticked + " ticked" : ""; }
    if (all) {
      all.checked = ticked > 0 && ticked === boxes().length;
      all.indeterminate = ticked > 0 && ticked < boxes().length;
    }
  }

  if (all) {
    all.hidden = false;
    all.closest("label").hidden = false;
    all.addEventListener("change", () => {
      boxes().forEach((box) => { box.checked = all.checked; });
      update();
    });
  }
  boxes().forEach((box) => box.addEventListener("change", update));
  update();
})();
