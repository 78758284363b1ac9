// Billing periods: a period's books (each customer of the CRM billed in it, failed or not
// billed, a page at a time in the CRM's id order, with the totals), a page to choose one,
// and the period input the start form shares.

import { coordinator } from "./api.js";
import { billLink, fact, h, periodLink, runLink, say, show, tableOf } from "./elements.js";
import { PAGE, guarded, pager } from "./pages.js";

// The coordinator's own pattern, as its OpenAPI document gives it, carried by the page: the
// input marks a text outside it at once, but the forms still send it (novalidate), so the
// server decides and its refusal, which says why, is what the person reads.
const PATTERN = document.querySelector('meta[name="billing-period-pattern"]').content;
export const PERIOD_FORMS = "a month (2026-12), a day (2026-12-06), a quarter (2026-Q4) or a year (2026)";
const SHOWN = { billed: "billed", failed: "failed", unbilled: "not billed" };

export function periodInput(id, value = "") {
  return h("input", {
    id,
    name: "billingPeriod",
    value,
    pattern: PATTERN,
    class: "period",
    placeholder: "2026-12",
    maxlength: 10,
    size: 12,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": `${id}-hint`,
  });
}

export const periodHint = (id, text) => h("small", { id: `${id}-hint`, class: "hint" }, text);

// As the person's clock shows it: the month they most likely mean.
function currentMonth(now = new Date()) {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function chooser(period) {
  const input = periodInput("period", period);
  const form = h(
    "form",
    { class: "inline", novalidate: true, "aria-label": "Choose a billing period" },
    h("div", {}, h("label", { for: "period" }, "Billing period"), input, periodHint("period", PERIOD_FORMS)),
    h("button", { type: "submit" }, "Show the books"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = input.value.trim();
    if (!chosen) {
      say(`Give a billing period: ${PERIOD_FORMS}.`);
      return;
    }
    say("");
    location.hash = `#/periods/${encodeURIComponent(chosen)}`;
  });
  return form;
}

export async function periodsPage(alive) {
  const recent = h("p", {}, "Looking…");
  show(
    h("h1", {}, "Billing periods"),
    h("p", {}, "A period's books: each customer of the CRM, billed in the period, failed or not billed."),
    chooser(currentMonth()),
    h("h2", {}, "Periods of recent runs"),
    recent,
  );
  const { data } = await coordinator("/runs?limit=100");
  if (!alive()) return;
  const periods = [...new Set(data.runs.map((run) => run.billingPeriod).filter(Boolean))];
  recent.replaceChildren(
    ...(periods.length ? periods.flatMap((period, i) => [i ? ", " : "", periodLink(period)]) : ["No recent run billed a period."]),
  );
}

function totalsShown(period, totals) {
  const percent = totals.customers ? Math.floor((100 * totals.billed) / totals.customers) : 100;
  return [
    h(
      "dl",
      { class: "facts" },
      fact("Customers", totals.customers),
      fact("Billed", totals.billed),
      fact("Failed", totals.failed),
      fact("Not billed", totals.unbilled),
    ),
    h(
      "div",
      {},
      h("progress", {
        class: "big-progress",
        max: totals.customers || 1,
        value: totals.billed,
        "aria-label": `${period}: ${percent}% of the customers billed`,
      }),
      ` ${percent}% billed`,
    ),
  ];
}

function customerRow(customer) {
  const id = customer.customerIdentifier;
  let bill = "";
  if (customer.billedBy) bill = billLink(customer.billedBy, id);
  else if (customer.bill) bill = customer.bill; // no run to read it through: its key
  const run = customer.billedBy || customer.failedIn;
  return h(
    "tr",
    {},
    h("td", {}, id),
    h("td", {}, h("span", { class: `state-${customer.state}` }, SHOWN[customer.state] || customer.state)),
    h("td", {}, bill),
    h("td", {}, run ? runLink(run) : ""),
    h("td", {}, customer.reason || ""),
  );
}

export function booksPage(period, alive) {
  const totals = h("div");
  const filter = h(
    "select",
    { id: "books-filter" },
    h("option", { value: "" }, "every customer"),
    Object.entries(SHOWN).map(([value, text]) => h("option", { value }, text)),
  );
  const rows = h("tbody");
  const pages = pager("Pages of the period's customers", load);
  // Shown once the books are read: a period refused shows its refusal, not an empty table.
  const shown = h(
    "div",
    { hidden: true },
    totals,
    h("h2", {}, "Customers"),
    h("div", { class: "bar" }, h("label", { for: "books-filter" }, "Show"), filter),
    tableOf(`The CRM's customers in ${period}`, ["Customer", "State", "Bill", "Run", "Why it failed"], rows),
    pages.bar,
  );

  async function load() {
    const query = new URLSearchParams({ limit: PAGE });
    if (pages.after()) query.set("after", pages.after());
    if (filter.value) query.set("state", filter.value);
    const { data } = await coordinator(`/periods/${encodeURIComponent(period)}?${query}`);
    if (!alive()) return false;
    // The totals come with a first page only; a later one keeps those shown.
    if (data.totals) totals.replaceChildren(...totalsShown(period, data.totals));
    rows.replaceChildren(...data.customers.map(customerRow));
    if (!data.customers.length) {
      // A filtered page looks at so many customers only: the next may still hold some.
      const none = data.next ? "None among these customers; see the next page." : "No customer here.";
      rows.replaceChildren(h("tr", {}, h("td", { colspan: 5 }, none)));
    }
    pages.update(data.next);
    shown.hidden = false;
    return false;
  }

  filter.addEventListener("change", () => {
    pages.reset();
    guarded(load);
  });
  show(h("h1", {}, `Billing period ${period}`), chooser(period), shown);
  return load();
}
