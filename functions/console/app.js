// The billing console. Everything it shows comes from the coordinator's and the CRM's
// APIs, with the token the person gives, and is put on the page as text (textContent,
// never HTML), so a customer's name can never run as code.

const CRM = document.querySelector('meta[name="crm-url"]').content;
const TOKEN_KEY = "billing-token"; // sessionStorage: this tab only, gone when it closes
const PAGE = 50; // rows of a table at a time
const POLL_MS = 1000; // at most one refresh a second, while a run runs and the tab shows

const main = document.getElementById("main");
const message = document.getElementById("message");
const tokenDialog = document.getElementById("token-dialog");

// -- elements ---------------------------------------------------------------------------

function h(tag, attributes = {}, ...children) {
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

const link = (hash, text) => h("a", { href: hash }, text);
const runLink = (runId) => link(`#/runs/${encodeURIComponent(runId)}`, runId);
const tableOf = (caption, headings, body) =>
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
const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));

function show(...nodes) {
  main.replaceChildren(...nodes);
  main.focus();
}

function say(text, kind = "error") {
  message.className = kind;
  message.textContent = text;
}

// -- the APIs ---------------------------------------------------------------------------

class Unauthorized extends Error {}
class ApiError extends Error {}

function askToken(note) {
  stopPolling();
  document.getElementById("token-note").textContent =
    note || "Give the bearer token to read and steer billing. It is kept for this tab only.";
  if (!tokenDialog.open) tokenDialog.showModal();
  document.getElementById("token").focus();
}

// The cursor a `Link: <...?after=...>; rel="next"` header names, or null.
function nextCursor(header) {
  const found = /<([^>]*)>;\s*rel="next"/.exec(header || "");
  return found ? new URL(found[1], location.origin).searchParams.get("after") : null;
}

async function call(base, path, { method = "GET", body, headers = {} } = {}) {
  // Without a token yet, ask anyway: a stack without auth answers, one with it says 401.
  const token = sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(base + path, init);
  } catch (error) {
    throw new ApiError(`${base || location.origin} did not answer (${error.message})`);
  }
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askToken(token ? "That token was not accepted. Give the bearer token again." : "");
    throw new Unauthorized();
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiError(data && data.error ? data.error : `${response.status} ${response.statusText}`);
  }
  return { data, next: nextCursor(response.headers.get("Link")) };
}

const coordinator = (path, options) => call("", path, options);
const crm = (path, options) => call(CRM, path, options);
const idempotencyKey = () => (crypto.randomUUID ? { "Idempotency-Key": crypto.randomUUID() } : {});

// -- pages, polling ---------------------------------------------------------------------

let carried = null; // a note for the next page shown, such as the run just started
let generation = 0; // a page's work is dropped once another page is shown
let timer = null;
let refresher = null;

function stopPolling() {
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
function pollWhile(refresh) {
  refresher = refresh;
  schedule();
}

document.addEventListener("visibilitychange", schedule);

async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof Unauthorized)) say(error.message);
    return false;
  }
}

// A pager over cursors: `after` is the current page's, earlier ones are kept for "back".
function pager(label, load) {
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

function progressOf(run) {
  const finished = run.counts.billed + run.counts.failed;
  const percent = run.total ? Math.floor((100 * finished) / run.total) : 100;
  return { finished, percent };
}

function progressBar(run, extra = {}) {
  const { finished, percent } = progressOf(run);
  return h(
    "span",
    {},
    h("progress", { max: run.total || 1, value: finished, "aria-label": `${run.runId}: ${percent}% finished`, ...extra }),
    ` ${percent}%`,
  );
}

const stateText = (state) => h("span", { class: `state-${state}` }, state);

// -- runs -------------------------------------------------------------------------------

function runsPage(alive) {
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
          h("td", {}, new Date(run.createTime).toLocaleString()),
          h("td", {}, stateText(run.state)),
          h("td", {}, progressBar(run)),
          h("td", {}, run.counts.billed),
          h("td", {}, run.counts.failed),
          h("td", {}, run.total),
        ),
      ),
    );
    if (!data.runs.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, "No runs yet.")));
    pages.update(data.next);
    return data.runs.some((run) => run.state === "running");
  }
  show(
    h("h1", {}, "Runs"),
    h("p", {}, link("#/start", "Start a run")),
    tableOf("Billing runs, newest first", ["Run", "Started", "State", "Progress", "Billed", "Failed", "Customers"], rows),
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
    const sinceStart = (now - new Date(run.createTime).getTime()) / 1000;
    if (sinceStart > 0) rate = run.counts.billed / sinceStart;
  }
  if (!rate) return ["—", "—"];
  const left = Math.ceil(run.counts.pending / rate);
  return [rate.toFixed(1), left < 60 ? `${left} s` : `${Math.ceil(left / 60)} min`];
}

function runPage(runId, alive) {
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
    facts.replaceChildren(
      fact("State", stateText(run.state)),
      fact("Started", new Date(run.createTime).toLocaleString()),
      fact("Customers", run.total),
      fact("Billed", run.counts.billed),
      fact("Failed", run.counts.failed),
      fact("Pending", run.counts.pending),
      fact("Bills per second", rate),
      fact("Time left", eta),
    );
    overall.replaceChildren(progressBar(run, { class: "big-progress" }));
    related.replaceChildren(
      run.retryOf ? h("span", {}, "A retry of ", runLink(run.retryOf), ". ") : "",
      run.retries.length ? h("span", {}, "Retried by ", run.retries.flatMap((id, i) => [i ? ", " : "", runLink(id)]), ".") : "",
      run.cancelledAt ? ` Cancelled at ${new Date(run.cancelledAt).toLocaleString()}.` : "",
    );
    retry.disabled = run.counts.failed === 0;
    cancel.disabled = run.state !== "running";
    rows.replaceChildren(
      ...run.customers.map((customer) =>
        h(
          "tr",
          {},
          h("td", {}, customer.customerIdentifier),
          h("td", {}, stateText(customer.state)),
          h(
            "td",
            {},
            customer.bill
              ? link(`#/bill/${encodeURIComponent(runId)}/${encodeURIComponent(customer.customerIdentifier)}`, "Read the bill")
              : "",
          ),
          h("td", {}, customer.reason || (customer.state === "pending" && customer.asked ? "asked the CRM" : "")),
        ),
      ),
    );
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
      say(`Retry started: run ${data.runId}, of ${data.workflows.length} customer(s).`, "note");
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
    h("div", { class: "bar" }, retry, cancel),
    h("h2", {}, "Customers"),
    h("div", { class: "bar" }, h("label", { for: "customer-filter" }, "Show"), filter),
    tableOf("The run's customers", ["Customer", "State", "Bill", "Why it failed"], rows),
    pages.bar,
  );
  return refreshAndPoll();
}

// -- a bill -----------------------------------------------------------------------------

async function billPage(runId, customerId, alive) {
  const path = `/runs/${encodeURIComponent(runId)}/bills/${encodeURIComponent(customerId)}`;
  const { data: text } = await coordinator(path);
  if (!alive()) return;
  const fileName = `customer-bill-${customerId}.txt`;
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

// -- customers --------------------------------------------------------------------------

const FIELDS = [
  ["firstName", "First name"],
  ["lastName", "Last name"],
  ["city", "City"],
  ["connectionId", "Connection id"],
  ["connectionMandate", "Connection mandate"],
];

function customersPage(alive) {
  const rows = h("tbody");
  const pages = pager("Pages of customers", load);
  const by = h("select", { id: "search-by" }, h("option", { value: "name" }, "name"), h("option", { value: "id" }, "id"));
  const term = h("input", { id: "search-term", type: "search", autocomplete: "off" });
  let searched = { by: "name", term: "" };

  async function load() {
    const after = pages.after();
    let customers;
    let next = null;
    if (searched.term && searched.by === "id") {
      try {
        customers = [(await crm(`/?customerId=${encodeURIComponent(searched.term)}`)).data];
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        customers = [];
        say(error.message);
      }
    } else {
      const cursor = after ? `&after=${encodeURIComponent(after)}` : "";
      const path = searched.term
        ? `/customer-search?name=${encodeURIComponent(searched.term)}&limit=${PAGE}${cursor}`
        : `/?limit=${PAGE}${cursor}`;
      ({ data: customers, next } = await crm(path));
    }
    if (!alive()) return false;
    rows.replaceChildren(
      ...customers.map((customer) =>
        h("tr", {}, h("td", {}, customer.customerId), FIELDS.map(([field]) => h("td", {}, customer[field]))),
      ),
    );
    if (!customers.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 6 }, "No customer found.")));
    pages.update(next);
    return false;
  }

  const search = h(
    "form",
    { class: "inline", role: "search" },
    h("div", {}, h("label", { for: "search-by" }, "Search by"), by),
    h("div", {}, h("label", { for: "search-term" }, "Starts with (name) or is (id)"), term),
    h("button", { type: "submit" }, "Search"),
  );
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    say("");
    searched = { by: by.value, term: term.value.trim() };
    pages.reset();
    guarded(load);
  });

  const inputs = FIELDS.map(([field, label]) => [field, label, h("input", { id: `new-${field}`, name: field, required: true })]);
  const add = h(
    "form",
    { class: "stacked" },
    h("fieldset", {}, h("legend", {}, "Add a customer"), inputs.flatMap(([field, label, input]) => [h("label", { for: `new-${field}` }, label), input])),
    h("button", { type: "submit" }, "Add the customer"),
  );
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(async () => {
      const body = Object.fromEntries(inputs.map(([field, , input]) => [field, input.value]));
      const { data: customer } = await crm("/customers", { method: "POST", body });
      say(`Customer ${customer.customerId} added: ${customer.firstName} ${customer.lastName}.`, "note");
      add.reset();
      await load();
    });
  });

  show(
    h("h1", {}, "Customers"),
    search,
    tableOf("The CRM's customers", ["Id", ...FIELDS.map(([, label]) => label)], rows),
    pages.bar,
    add,
  );
  return load();
}

// -- start a run ------------------------------------------------------------------------

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

const MAX_RUN = 10000;

function startPage(alive) {
  const every = h("input", { type: "radio", name: "who", id: "who-every", value: "every", checked: true });
  const some = h("input", { type: "radio", name: "who", id: "who-some", value: "some" });
  const ids = h("textarea", { id: "customer-ids", rows: 4, placeholder: "1 2 3" });
  const submit = h("button", { type: "submit" }, "Start the run");
  const form = h(
    "form",
    { class: "stacked" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Whom to bill"),
      h("div", {}, every, " ", h("label", { for: "who-every" }, "Every customer of the CRM")),
      h("div", {}, some, " ", h("label", { for: "who-some" }, "These customers")),
    ),
    h("label", { for: "customer-ids" }, "Customer ids, separated by spaces, commas or lines"),
    ids,
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
        const started = [];
        for (let start = 0; start < Math.max(chosen.length, 1); start += MAX_RUN) {
          const body = { customerIdentifiers: chosen.slice(start, start + MAX_RUN) };
          const { data } = await coordinator("/", { method: "POST", body, headers: idempotencyKey() });
          started.push(data.runId);
        }
        if (!alive()) return;
        carried = { text: `Started ${started.join(", ")}.`, kind: "note" };
        location.hash = started.length === 1 ? `#/runs/${encodeURIComponent(started[0])}` : "#/runs";
      } finally {
        submit.disabled = false;
      }
    });
  });
  show(h("h1", {}, "Start a run"), form);
  // The form needs nothing read first; one look tells whether a token is needed yet.
  if (!sessionStorage.getItem(TOKEN_KEY)) return coordinator("/runs?limit=1");
}

// -- routing ----------------------------------------------------------------------------

const ROUTES = [
  [/^#\/runs\/([^/]+)$/, runPage, "#/runs"],
  [/^#\/bill\/([^/]+)\/([^/]+)$/, billPage, "#/runs"],
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

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  tokenDialog.close();
  say("");
  route();
});
tokenDialog.addEventListener("cancel", (event) => {
  if (!sessionStorage.getItem(TOKEN_KEY)) event.preventDefault(); // nothing to show without one
});
document.getElementById("forget-token").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askToken();
});
window.addEventListener("hashchange", () => {
  say(carried ? carried.text : "", carried ? carried.kind : "error");
  carried = null;
  route();
});
route();
