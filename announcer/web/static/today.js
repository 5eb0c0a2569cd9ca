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
      : panel.dataset.progress.replace("{done}", state.done).replace("{total}", state.total);
    if (!state.finished) { setTimeout(() => follow(job), 300); return; }
    if (state.ok) {
      window.location.assign("/?date=" + encodeURIComponent(day) + "&job=" + encodeURIComponent(job));
    } else {
      showErrors(state.errors);
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    errors.replaceChildren();
    const answer = await postJSON("/build", {date: day});
    if (answer.ok) follow(answer.job); else showErrors(answer.errors);
  });

  if (panel.dataset.job) { button.disabled = true; follow(panel.dataset.job); }
})();
