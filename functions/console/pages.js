// What every page shares: errors shown rather than thrown, polling while something shown
// runs (at most once a second, and only while the tab is visible), a pager over cursors,
// and a note carried to the next page shown.

import { Unauthorized } from "./api.js";
import { h, say } from "./elements.js";

export const PAGE = 50; // rows of a table at a time
const POLL_MS = 1000; // at most one refresh a second, while a run runs and the tab shows

let carried = null; // a note for the next page shown, such as the run just started
let timer = null;
let refresher = null;

export function carryNote(text, kind = "note") {
  carried = { text, kind };
}

// The note carried to this page, once: [text, kind].
export function takeNote() {
  const note = carried ? [carried.text, carried.kind] : ["", "error"];
  carried = null;
  return note;
}

export function stopPolling() {
  clearTimeout(timer);
  timer = null;
  refresher = null;
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (refresher && document.visibilityState === "visible") {
    timer = setTimeout(async () => {
      const stillRunning = await guarded(refresher);
      if (stillRunning) schedule();
      else refresher = null;
    }, POLL_MS);
  }
}

// Refreshes with ``refresh`` while it answers true (something shown is running).
export function pollWhile(refresh) {
  refresher = refresh;
  schedule();
}

document.addEventListener("visibilitychange", schedule);

export async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(error.message);
    return false;
  }
}

// A pager over cursors: `after` is the current page's, earlier ones are kept for "back".
export function pager(label, load) {
  const earlier = [];
  let current = "";
  let following = null;
  const previous = h("button", { type: "button", class: "secondary" }, "Previous page");
  const next = h("button", { type: "button", class: "secondary" }, "Next page");
  const bar = h("div", { class: "bar", role: "navigation", "aria-label": label }, previous, next);
  const update = (nextAfter) => {
    following = nextAfter;
    previous.disabled = earlier.length === 0;
    next.disabled = following === null || following === undefined;
  };
  previous.addEventListener("click", () => {
    current = earlier.pop() ?? "";
    guarded(load);
  });
  next.addEventListener("click", () => {
    earlier.push(current);
    current = String(following);
    guarded(load);
  });
  return {
    bar,
    update,
    after: () => current,
    reset: () => {
      earlier.length = 0;
      current = "";
    },
  };
}

