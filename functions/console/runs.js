// The runs: the list, newest first, with their progress; a run's counts, billing period,
// customers, retry and cancel; a bill's text and its download.

import { coordinator, fileNameOf } from "./api.js";
import { billLink, fact, h, link, periodLink, progressBar, runLink, show, say, stateText, tableOf } from "./elements.js";
import { PAGE, guarded, pager, pollWhile } from "./pages.js";
import { may } from "./roles.js";

export function runsPage(alive) {
  const rows = h("tbody");
  const pages = pager("Pages of runs", load);
  async function load() {
    const after = pages.after();
    const { data } = await coordinator(`/runs?limit=20${after ? `&after=${encodeURIComponent(after)}` : ""}`);
    if (!alive()) return false;
    rows.replaceChildren(
      ...data.runs.map((run) =>
        h(
          "tr",
          {},
          h("td", {}, runLink(run.runId), run.retryOf ? h("div", {}, "retry of ", runLink(run.retryOf)) : null),
          h("td", {}, run.billingPeriod ? periodLink(run.billingPeriod) : ""),
          h("td", {}, new Date(run.createTime).toLocaleString()),
          h("td", {}, stateText(run.state)),
          h("td", {}, progressBar(run)),
          h("td", {}, run.counts.billed),
          h("td", {}, run.counts.failed),
          h("td", {}, run.total),
        ),
      ),
    );
    if (!data.runs.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 8 }, "No runs yet.")));
    pages.update(data.next);
    return data.runs.some((run) => run.state === "running");
  }
  show(
    h("h1", {}, "Runs"),
    may("operator") ? h("p", {}, link("#/start", "Start a run")) : null,
    tableOf("Billing runs, newest first", ["Run", "Period", "Started", "State", "Progress", "Billed", "Failed", "Customers"], rows),
    pages.bar,
  );
  return load().then((running) => running && pollWhile(load));
}

function rateAndEta(run, firstSeen) {
  if (run.state !== "running") return ["—", "—"];
  const now = Date.now();
  let rate = 0;
  const seconds = (now - firstSeen.at) / 1000;
  if (seconds >= 2 && run.counts.billed > firstSeen.billed) {
    rate = (run.counts.billed - firstSeen.billed) / seconds;
  } else {
    // Those billed in the period before the run were counted billed at its start.
    const sinceStart = (now - new Date(run.createTime).getTime()) / 1000;
    if (sinceStart > 0) rate = (run.counts.billed - (run.billedBefore || 0)) / sinceStart;
  }
  if (!rate) return ["—", "—"];
  const left = Math.ceil(run.counts.pending / rate);
  return [rate.toFixed(1), left < 60 ? `${left} s` : `${Math.ceil(left / 60)} min`];
}

function customerRow(runId, customer) {
  const id = customer.customerIdentifier;
  let details = customer.reason || (customer.state === "pending" && customer.asked ? "asked the CRM" : "");
  if (customer.billedBefore) {
    details = customer.billedBy ? h("span", {}, "billed before by ", runLink(customer.billedBy)) : "billed before this run";
  }
  // A bill of the period is read through the run that wrote it.
  const billedBy = customer.billedBefore && customer.billedBy ? customer.billedBy : runId;
  return h(
    "tr",
    {},
    h("td", {}, id),
    h("td", {}, stateText(customer.state)),
    h("td", {}, customer.bill ? billLink(billedBy, id) : ""),
    h("td", {}, details),
  );
}

export function runPage(runId, alive) {
  const heading = h("h1", {}, `Run ${runId}`);
  const facts = h("dl", { class: "facts" });
  const overall = h("div");
  const related = h("p");
  const retry = h("button", { type: "button" }, "Retry the failed customers");
  const cancel = h("button", { type: "button", class: "danger" }, "Cancel the run");
  const filter = h(
    "select",
    { id: "customer-filter" },
    h("option", { value: "" }, "every customer"),
    h("option", { value: "failed" }, "failed"),
    h("option", { value: "pending" }, "pending"),
    h("option", { value: "billed" }, "billed"),
  );
  const rows = h("tbody");
  const pages = pager("Pages of the run's customers", load);
  let firstSeen = null;
  let latest = null;

  async function load() {
    const state = filter.value ? `&state=${filter.value}` : "";
    const path = `/runs/${encodeURIComponent(runId)}?limit=${PAGE}&after=${pages.after() || 0}${state}`;
    const { data: run } = await coordinator(path);
    if (!alive()) return false;
    latest = run;
    firstSeen = firstSeen || { at: Date.now(), billed: run.counts.billed };
    const [rate, eta] = rateAndEta(run, firstSeen);
    const period = run.billingPeriod;
    facts.replaceChildren(
      fact("State", stateText(run.state)),
      fact("Started", new Date(run.createTime).toLocaleString()),
      period ? fact("Billing period", periodLink(period)) : "",
      fact("Customers", run.total),
      fact("Billed", run.counts.billed),
      period ? fact("Billed before", run.billedBefore ?? 0) : "",
      fact("Failed", run.counts.failed),
      fact("Pending", run.counts.pending),
      fact("Bills per second", rate),
      fact("Time left", eta),
    );
    overall.replaceChildren(progressBar(run, { class: "big-progress" }));
    const starter = run.startedBy ?? (run.scheduledFor ? `the schedule (${run.scheduledFor})` : null);
    related.replaceChildren(
      starter ? `Started by ${starter}. ` : "",
      run.retryOf ? h("span", {}, "A retry of ", runLink(run.retryOf), ". ") : "",
      run.retries.length ? h("span", {}, "Retried by ", run.retries.flatMap((id, i) => [i ? ", " : "", runLink(id)]), ".") : "",
      run.cancelledAt
        ? ` Cancelled at ${new Date(run.cancelledAt).toLocaleString()}${run.cancelledBy ? ` by ${run.cancelledBy}` : ""}.`
        : "",
    );
    retry.disabled = run.counts.failed === 0;
    cancel.disabled = run.state !== "running";
    rows.replaceChildren(...run.customers.map((customer) => customerRow(runId, customer)));
    if (!run.customers.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 4 }, "No customer here.")));
    pages.update(run.next ?? null);
    return run.state === "running";
  }
  async function refreshAndPoll() {
    if (await load()) pollWhile(load);
  }

  filter.addEventListener("change", () => {
    pages.reset();
    guarded(load);
  });
  retry.addEventListener("click", () =>
    guarded(async () => {
      retry.disabled = true;
      const { data } = await coordinator(`/runs/${encodeURIComponent(runId)}/retry`, { method: "POST" });
      const since = (data.billedBefore || []).length;
      const skipped = since ? `; ${since} billed in ${data.billingPeriod} since, not billed again` : "";
      say(`Retry started: run ${data.runId}, of ${data.workflows.length} customer(s)${skipped}.`, "note");
      await refreshAndPoll();
    }),
  );
  cancel.addEventListener("click", () => {
    const pending = latest ? latest.counts.pending : "its";
    if (!confirm(`Cancel run ${runId}? Its ${pending} pending customer(s) will fail as cancelled; the bills written stay.`)) return;
    guarded(async () => {
      cancel.disabled = true;
      await coordinator(`/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" });
      say(`Run ${runId} cancelled.`, "note");
      await load();
    });
  });

  show(
    heading,
    facts,
    overall,
    related,
    // Retry and cancel are an operator's: a viewer is not offered them at all.
    may("operator") ? h("div", { class: "bar" }, retry, cancel) : null,
    h("h2", {}, "Customers"),
    h("div", { class: "bar" }, h("label", { for: "customer-filter" }, "Show"), filter),
    tableOf("The run's customers", ["Customer", "State", "Bill", "Details"], rows),
    pages.bar,
  );
  return refreshAndPoll();
}

// -- a bill -----------------------------------------------------------------------------

export async function billPage(runId, customerId, alive) {
  const path = `/runs/${encodeURIComponent(runId)}/bills/${encodeURIComponent(customerId)}`;
  const { data: text, headers } = await coordinator(path);
  if (!alive()) return;
  // The coordinator names the bill's file (its Content-Disposition), as S3 keeps it.
  const fileName = fileNameOf(headers.get("Content-Disposition")) || "bill.txt";
  const download = h("button", { type: "button" }, `Download ${fileName}`);
  download.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
    const anchor = h("a", { href: url, download: fileName });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  show(
    h("h1", {}, `Bill of customer ${customerId}`),
    h("p", {}, "From run ", runLink(runId), "."),
    h("pre", { class: "bill", "aria-label": "The bill's text" }, text),
    download,
  );
}

