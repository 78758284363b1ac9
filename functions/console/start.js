// Starting a run: of every customer the CRM knows, or of the ids given, for a billing period
// if one is given; as many runs as the coordinator's limit a run (which the page it serves
// names) needs.

import { coordinator, crm, hasToken, idempotencyKey } from "./api.js";
import { h, say, show } from "./elements.js";
import { carryNote, guarded } from "./pages.js";
import { PERIOD_FORMS, periodHint, periodInput } from "./periods.js";
import { may, notForYou } from "./roles.js";

const MAX_RUN = Number(document.querySelector('meta[name="max-customers-per-run"]').content);

async function everyCustomerId() {
  const ids = [];
  let after = "";
  do {
    const { data, next } = await crm(`/customer-ids${after ? `?after=${encodeURIComponent(after)}` : ""}`);
    ids.push(...data);
    after = next;
  } while (after);
  return ids;
}

export function startPage(alive) {
  if (!may("operator")) {
    show(h("h1", {}, "Start a run"), h("p", {}, notForYou("Starting a run", "operator")));
    return undefined;
  }
  const every = h("input", { type: "radio", name: "who", id: "who-every", value: "every", checked: true });
  const some = h("input", { type: "radio", name: "who", id: "who-some", value: "some" });
  const ids = h("textarea", { id: "customer-ids", rows: 4, placeholder: "1 2 3" });
  const period = periodInput("billing-period");
  const submit = h("button", { type: "submit" }, "Start the run");
  const form = h(
    "form",
    { class: "stacked", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Whom to bill"),
      h("div", {}, every, " ", h("label", { for: "who-every" }, "Every customer of the CRM")),
      h("div", {}, some, " ", h("label", { for: "who-some" }, "These customers")),
    ),
    h("label", { for: "customer-ids" }, "Customer ids, separated by spaces, commas or lines"),
    ids,
    h("label", { for: "billing-period" }, "Billing period"),
    period,
    periodHint(
      "billing-period",
      `Optional: ${PERIOD_FORMS}. A customer gets one bill of a period at most; those billed in it already are skipped.`,
    ),
    submit,
  );
  ids.addEventListener("input", () => {
    if (ids.value.trim()) some.checked = true;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say("");
    guarded(async () => {
      submit.disabled = true;
      try {
        const chosen = every.checked ? await everyCustomerId() : ids.value.split(/[\s,]+/).filter(Boolean);
        const billingPeriod = period.value.trim();
        const started = [];
        let billedBefore = 0;
        for (let start = 0; start < Math.max(chosen.length, 1); start += MAX_RUN) {
          const body = { customerIdentifiers: chosen.slice(start, start + MAX_RUN) };
          if (billingPeriod) body.billingPeriod = billingPeriod;
          const { data } = await coordinator("/", { method: "POST", body, headers: idempotencyKey() });
          started.push(data.runId);
          billedBefore += (data.billedBefore || []).length;
        }
        if (!alive()) return;
        const skipped = billedBefore
          ? ` ${billedBefore} customer(s) were billed in ${billingPeriod} already: not billed again.`
          : "";
        carryNote(`Started ${started.join(", ")}.${skipped}`);
        location.hash = started.length === 1 ? `#/runs/${encodeURIComponent(started[0])}` : "#/runs";
      } finally {
        submit.disabled = false;
      }
    });
  });
  show(h("h1", {}, "Start a run"), form);
  // The form needs nothing read first; one look tells whether a token is needed yet.
  if (!hasToken()) return coordinator("/runs?limit=1");
}

