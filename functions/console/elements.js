// The console's building blocks: elements made from text (never from HTML, so a
// customer's name can never run as code), the page's main area and its message line.

const main = document.getElementById("main");
const message = document.getElementById("message");

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child)); // text, never markup
  }
  return element;
}

export const link = (hash, text) => h("a", { href: hash }, text);
export const runLink = (runId) => link(`#/runs/${encodeURIComponent(runId)}`, runId);
export const periodLink = (period) => link(`#/periods/${encodeURIComponent(period)}`, period);
export const billLink = (runId, customerId) =>
  link(`#/bill/${encodeURIComponent(runId)}/${encodeURIComponent(customerId)}`, "Read the bill");
export const tableOf = (caption, headings, body) =>
  h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      body,
    ),
  );
export const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
export const stateText = (state) => h("span", { class: `state-${state}` }, state);

export function show(...nodes) {
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== false));
  main.focus();
}

export function say(text, kind = "error") {
  message.className = kind;
  message.textContent = text;
}

export function progressOf(run) {
  const finished = run.counts.billed + run.counts.failed;
  const percent = run.total ? Math.floor((100 * finished) / run.total) : 100;
  return { finished, percent };
}

export function progressBar(run, extra = {}) {
  const { finished, percent } = progressOf(run);
  return h(
    "span",
    {},
    h("progress", { max: run.total || 1, value: finished, "aria-label": `${run.runId}: ${percent}% finished`, ...extra }),
    ` ${percent}%`,
  );
}
