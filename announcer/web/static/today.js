// Today and Recordings pages: start a build and follow its progress, reloading with the new clips when
// it is done; a form with data-busy says so on its button while the server works.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (event.defaultPrevented || !form.dataset.busy) return;
  const button = event.submitter || form.querySelector("button[type=submit]");
  if (button) {
    // Disabled after the submission has started, so the form is still sent.
    setTimeout(() => { button.disabled = true; button.textContent = form.dataset.busy; }, 0);
  }
});

// Saving notices: a paste too big to send is said on the form, nothing sent; replacing the saved notices
// asks first with their number, and the answer goes with the form (the server refuses a replace without it).
(function () {
  const form = document.getElementById("notices-form");
  if (!form) return;
  const text = document.getElementById("notices-text");
  const file = document.getElementById("notices-file");
  const replace = document.getElementById("notices-replace");
  const confirmed = document.getElementById("notices-confirm");
  const errors = document.getElementById("notices-errors");

  function refuse(event, message) {
    event.preventDefault();
    event.stopImmediatePropagation();       // not "Saving…": nothing is sent
    errors.replaceChildren();
    const item = document.createElement("li");
    item.textContent = message;
    errors.appendChild(item);
    errors.hidden = false;
    errors.scrollIntoView({block: "nearest"});
  }

  form.addEventListener("submit", (event) => {
    const limit = Number(form.dataset.limit) || 0;
    const size = new TextEncoder().encode(text.value).length;
    const chosen = file && file.files && file.files[0];
    if (limit && (size > limit || (chosen && chosen.size > limit))) {
      refuse(event, form.dataset.tooBig);
      return;
    }
    confirmed.value = "";
    if (replace && replace.checked) {
      const count = Number(replace.dataset.count) || 0;
      if (count > 0 && !window.confirm(replace.dataset.confirm)) {
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      confirmed.value = String(count);
    }
  });
})();

(function () {
  const panel = document.getElementById("build-panel");
  if (!panel) return;
  const button = document.getElementById("build");
  const bar = document.getElementById("build-progress");
  const status = document.getElementById("build-status");
  const errors = document.getElementById("build-errors");
  const day = panel.dataset.day;

  function showErrors(list) {
    errors.replaceChildren();
    for (const text of list || []) {
      const item = document.createElement("li");
      item.textContent = text;
      errors.appendChild(item);
    }
    bar.hidden = true;
    status.textContent = list && list.length ? panel.dataset.failed : "";
    button.disabled = false;
  }

  async function follow(job) {
    let state;
    try {
      state = await getJSON("/build/" + encodeURIComponent(job));
    } catch (e) {
      setTimeout(() => follow(job), 1000);   // the server is busy or restarting: keep trying
      return;
    }
    if (!("finished" in state)) { showErrors(state.errors); return; }
    bar.hidden = false;
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    status.textContent = state.withdraw ? panel.dataset.withdrawing
      : panel.dataset.progress.replace("{done}", state.done).replace("{total}", state.total)
        + (state.stage_text ? " · " + state.stage_text : "");
    if (!state.finished) { setTimeout(() => follow(job), 300); return; }
    if (state.ok) {
      keepPlace();
      window.location.assign("/?date=" + encodeURIComponent(day) + "&job=" + encodeURIComponent(job));
    } else {
      showErrors(state.errors);
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    errors.replaceChildren();
    const answer = await postJSON("/build", {date: day});
    if (!answer.ok) { showErrors(answer.errors); return; }
    const clips = document.getElementById("clips");
    if (clips) {      // the table from before may list clips the build takes away: not shown meanwhile
      const waiting = document.createElement("p");
      waiting.className = "muted";
      waiting.id = "clips-rebuilding";
      waiting.textContent = panel.dataset.rebuilding;
      clips.replaceWith(waiting);
    }
    const undo = document.getElementById("undo-form");
    if (undo) undo.remove();      // pressing Build ends the undo
    follow(answer.job);
  });

  if (panel.dataset.job) { button.disabled = true; follow(panel.dataset.job); }
})();
