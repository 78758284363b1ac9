// The billing console: its pages by the location's hash, and the bearer token. Everything
// it shows comes from the coordinator's and the CRM's APIs (api.js), with the token the
// person gives, and is put on the page as text (elements.js), so a customer's name can
// never run as code. ES modules of the same origin, as the page's policy allows.

import { forgetToken, hasToken, useToken, whenUnauthorized } from "./api.js";
import { customersPage } from "./customers.js";
import { h, link, say, show } from "./elements.js";
import { guarded, stopPolling, takeNote } from "./pages.js";
import { booksPage, periodsPage } from "./periods.js";
import { forgetCaller, identify } from "./roles.js";
import { billPage, runPage, runsPage } from "./runs.js";
import { startPage } from "./start.js";

const tokenDialog = document.getElementById("token-dialog");
let generation = 0; // a page's work is dropped once another page is shown

function askToken(note) {
  stopPolling();
  document.getElementById("token-note").textContent =
    note || "Give the bearer token to read and steer billing. It is kept for this tab only.";
  if (!tokenDialog.open) tokenDialog.showModal();
  document.getElementById("token").focus();
}

whenUnauthorized(askToken);

const ROUTES = [
  [/^#\/runs\/([^/]+)$/, runPage, "#/runs"],
  [/^#\/bill\/([^/]+)\/([^/]+)$/, billPage, "#/runs"],
  [/^#\/periods\/([^/]+)$/, booksPage, "#/periods"],
  [/^#\/periods$/, periodsPage, "#/periods"],
  [/^#\/customers$/, customersPage, "#/customers"],
  [/^#\/start$/, startPage, "#/start"],
  [/^(?:#\/runs)?$/, runsPage, "#/runs"],
];

async function route() {
  stopPolling();
  const mine = ++generation;
  const alive = () => mine === generation;
  const hash = location.hash === "#" || location.hash === "#/" ? "" : location.hash;
  for (const [pattern, page, section] of ROUTES) {
    const found = pattern.exec(hash);
    if (!found) continue;
    for (const anchor of document.querySelectorAll("nav a")) {
      if (anchor.getAttribute("href") === section) anchor.setAttribute("aria-current", "page");
      else anchor.removeAttribute("aria-current");
    }
    await guarded(() => page(...found.slice(1).map(decodeURIComponent), alive));
    return;
  }
  show(h("h1", {}, "No such page"), h("p", {}, link("#/runs", "See the runs")));
}

// Who the token names first, so that a page never offers what its role may not do; then
// the page. Without a token, or with one refused, the prompt comes back instead.
async function signIn() {
  const known = await guarded(async () => {
    await identify();
    return true;
  });
  if (known) await route();
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  useToken(input.value.trim());
  input.value = "";
  tokenDialog.close();
  say("");
  signIn();
});
tokenDialog.addEventListener("cancel", (event) => {
  if (!hasToken()) event.preventDefault(); // nothing to show without one
});
document.getElementById("forget-token").addEventListener("click", () => {
  forgetToken();
  forgetCaller();
  askToken();
});
window.addEventListener("hashchange", () => {
  say(...takeNote());
  route();
});
signIn();
