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

// Keep the place: a page that comes back after a form, a build or a language switch opens where the staff
// member was, not at the top. keepPlace() remembers where the page is scrolled (call it before reloading
// the page from a script); the next page at the same path scrolls there, once, and forgets it.
const PLACE_KEY = "announcer-place";
const PLACE_FOR_MS = 10 * 60 * 1000;   // a place older than this is not restored

function keepPlace() {
  try {
    sessionStorage.setItem(PLACE_KEY, JSON.stringify({path: window.location.pathname, y: window.scrollY,
                                                      at: Date.now()}));
  } catch (e) { /* storage off: the page opens at the top, as before */ }
}

function takePlace() {
  let place = null;
  try {
    place = JSON.parse(sessionStorage.getItem(PLACE_KEY) || "null");
    sessionStorage.removeItem(PLACE_KEY);
  } catch (e) { return null; }
  if (!place || place.path !== window.location.pathname || !(place.y > 0)) return null;
  return Date.now() - place.at < PLACE_FOR_MS ? place.y : null;
}

(function restorePlace() {
  const y = takePlace();
  if (y === null) return;
  window.scrollTo(0, y);
  // Late layout (fonts, players) can shorten the first try; go again once, unless the user has scrolled.
  const first = window.scrollY;
  window.addEventListener("load", () => { if (window.scrollY === first && first < y) window.scrollTo(0, y); },
                          {once: true});
})();

// On window, so this runs after every page script's submit handler: a form they stopped keeps no place.
window.addEventListener("submit", (event) => { if (!event.defaultPrevented) keepPlace(); });
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.lang, a[data-keep-place]");
  if (link) keepPlace();
});

// The message of what just happened can be put away.
for (const flash of document.querySelectorAll("main > .flash")) {
  const close = document.createElement("button");
  close.type = "button";
  close.className = "flash-close";
  close.setAttribute("aria-label", document.documentElement.lang === "en" ? "close" : "关闭");
  close.addEventListener("click", () => flash.remove());
  flash.prepend(close);
}
