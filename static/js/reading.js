// Keyboard shortcuts of the reading flow, on the worklist and the exam page.
//
// "?" opens the list of them (templates/dashboard/includes/shortcuts.html, a <dialog>
// that Escape closes). On the worklist: j/k or the arrows move a visible selection
// among the rows, Enter opens the exam, "x" ticks its box, "/" goes to the search. On
// the exam page: j/n next exam, k/p previous, "a" assign to me, "s" save the draft,
// "e" the worksheet. None fires while typing in a field, with Ctrl/Alt/Meta held, or
// while another dialog (the image viewer) is open.
(function () {
  "use strict";

  const dialog = document.getElementById("shortcuts-dialog");
  const table = document.querySelector("table[data-worklist]");

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    return Boolean(target.closest("input, textarea, select"));
  }

  function otherDialogOpen() {
    return Array.from(document.querySelectorAll("dialog[open]")).some((d) => d !== dialog);
  }

  // --- The list of shortcuts -----------------------------------------------------------
  let returnFocus = null;
  function openShortcuts() {
    if (!dialog || dialog.open) return;
    returnFocus = document.activeElement;
    dialog.showModal();
  }
  if (dialog) {
    dialog.addEventListener("close", () => {
      if (returnFocus && typeof returnFocus.focus === "function") returnFocus.focus();
    });
  }
  document.querySelectorAll("[data-shortcuts-open]").forEach((button) => {
    button.addEventListener("click", openShortcuts);
  });

  // --- The worklist --------------------------------------------------------------------
  const rows = table ? Array.from(table.querySelectorAll("tbody tr[data-exam-row]")) : [];
  let selected = -1;

  function select(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("is-selected", i === index));
    selected = index;
    const link = rows[index].querySelector("a[data-exam-link]");
    if (link) link.focus();
    rows[index].scrollIntoView({ block: "nearest" });
  }

  // A row focused another way (Tab, a click) becomes the selection.
  rows.forEach((row, i) => {
    row.addEventListener("focusin", () => {
      rows.forEach((other, j) => other.classList.toggle("is-selected", i === j));
      selected = i;
    });
  });

  const picks = Array.from(document.querySelectorAll("input[data-pick]"));
  const selectAll = document.querySelector("input[data-select-all]");
  const count = document.querySelector("[data-bulk-count]");
  function showCount() {
    const ticked = picks.filter((p) => p.checked).length;
    if (count) count.textContent = ticked ? `${ticked} ticked` : "";
    if (selectAll) {
      selectAll.checked = ticked > 0 && ticked === picks.length;
      selectAll.indeterminate = ticked > 0 && ticked < picks.length;
    }
  }
  picks.forEach((pick) => pick.addEventListener("change", showCount));
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      picks.forEach((pick) => { pick.checked = selectAll.checked; });
      showCount();
    });
  }

  function worklistKey(event) {
    switch (event.key) {
      case "j":
      case "ArrowDown":
        select(selected + 1);
        return true;
      case "k":
      case "ArrowUp":
        select(selected < 0 ? 0 : selected - 1);
        return true;
      case "Enter": {
        if (selected < 0) return false;
        // On the row's link, the browser follows it by itself.
        if (document.activeElement && document.activeElement.matches("a[data-exam-link]")) {
          return false;
        }
        const link = rows[selected].querySelector("a[data-exam-link]");
        if (link) window.location.assign(link.href);
        return true;
      }
      case "x": {
        if (selected < 0) return false;
        const pick = rows[selected].querySelector("input[data-pick]");
        if (!pick) return false;
        pick.checked = !pick.checked;
        showCount();
        return true;
      }
      case "/": {
        const search = document.getElementById("id_q");
        if (!search) return false;
        search.focus();
        search.select();
        return true;
      }
      default:
        return false;
    }
  }

  // --- The exam page -------------------------------------------------------------------
  function follow(which) {
    const link = document.querySelector(`a[data-reading="${which}"]`);
    if (link) window.location.assign(link.href);
    return Boolean(link);
  }

  function examKey(event) {
    switch (event.key) {
      case "j":
      case "n":
        return follow("next");
      case "k":
      case "p":
        return follow("previous");
      case "a": {
        const form = document.querySelector("form[data-assign-form]");
        if (form) form.requestSubmit();
        return Boolean(form);
      }
      case "s": {
        const form = document.getElementById("findings-form");
        if (!form) return false;
        // The "Save draft" button: the form's own action, not "Review and sign".
        const save = form.querySelector("button[type=submit]:not([formaction]):not([name])");
        form.requestSubmit(save || undefined);
        return true;
      }
      case "e": {
        const form = document.getElementById("findings-form");
        if (!form) return false;
        const field = Array.from(
          form.querySelectorAll("select, textarea, input:not([type=hidden])")
        ).find((el) => !el.disabled && el.offsetParent !== null);
        if (field) {
          field.focus();
          field.scrollIntoView({ block: "center" });
        }
        return Boolean(field);
      }
      default:
        return false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || otherDialogOpen()) return;
    if (dialog && dialog.open) return; // Escape and Tab work in it as in any dialog
    if (event.key === "?") {
      event.preventDefault();
      openShortcuts();
      return;
    }
    const handled = table ? worklistKey(event) : examKey(event);
    if (handled) event.preventDefault();
  });
})();
