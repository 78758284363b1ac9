// Who the token names (the coordinator's GET /whoami) and what its role may do: the header
// shows "NAME · ROLE", and the pages leave out what the role may not do. The APIs refuse it
// regardless; this spares a person buttons that can only be refused.

import { ApiError, coordinator } from "./api.js";
import { h } from "./elements.js";

const ROLES = ["viewer", "operator", "admin"]; // each may do what the ones before it may
const shown = document.getElementById("caller");
let caller = null; // {name, role, via} once known; null: unknown, so everything is offered

function showCaller() {
  shown.hidden = caller === null;
  shown.replaceChildren();
  if (caller === null) return;
  shown.title = `known by its ${caller.via}`;
  shown.append(
    h("span", { class: "visually-hidden" }, "Signed in as "),
    `${caller.name} · `,
    h("span", { class: "role" }, caller.role),
  );
  // What a viewer may not do is not offered anywhere, the header's link included.
  for (const element of document.querySelectorAll("[data-needs]")) element.hidden = !may(element.dataset.needs);
}

// Whether the caller may do what ``role`` may; true while the caller is unknown (a
// coordinator of an earlier version, without /whoami): the API's refusal then says why.
export const may = (role) => caller === null || ROLES.indexOf(caller.role) >= ROLES.indexOf(role);

// What a page says in place of what the caller may not do.
export const notForYou = (what, role) =>
  `${what} needs a token of the role ${role} or above; ${caller.name} has the role ${caller.role}.` +
  ` An admin can make one (billing tokens add NAME --role ${role}).`;

// Asks who the token names; throws Unauthorized when it names nobody (the prompt is back).
export async function identify() {
  try {
    ({ data: caller } = await coordinator("/whoami"));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    caller = null;
  }
  showCaller();
}

// The token forgotten: the header names nobody until the next one is known.
export function forgetCaller() {
  caller = null;
  shown.hidden = true;
}
