// Small helpers shared by the pages; no framework, no build step.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf"]');
  return meta ? meta.content : "";
}

// POST form data or an object; resolves to the parsed JSON answer (errors too).
async function postJSON(url, data) {
  const body = data instanceof FormData ? data : new URLSearchParams(data || {});
  const response = await fetch(url, {
    method: "POST", body, credentials: "same-origin",
    headers: {"X-CSRF-Token": csrfToken(), "Accept": "application/json", "X-Requested-With": "fetch"},
  });
  let answer;
  try { answer = await response.json(); } catch (e) { answer = {ok: false, errors: [response.statusText]}; }
  answer.status = response.status;
  return answer;
}

async function getJSON(url) {
  const response = await fetch(url, {credentials: "same-origin",
                                     headers: {"Accept": "application/json", "X-Requested-With": "fetch"}});
  return response.json();
}

// Buttons with data-confirm ask first.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const text = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (text && !window.confirm(text)) event.preventDefault();
});
