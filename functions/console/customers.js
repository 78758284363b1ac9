// The CRM's customers: a page at a time in id order, searched by name or id, and a form
// to add one (an admin's).

import { ApiError, crm } from "./api.js";
import { h, say, show, tableOf } from "./elements.js";
import { PAGE, guarded, pager } from "./pages.js";
import { may } from "./roles.js";

const FIELDS = [
  ["firstName", "First name"],
  ["lastName", "Last name"],
  ["city", "City"],
  ["connectionId", "Connection id"],
  ["connectionMandate", "Connection mandate"],
];

export function customersPage(alive) {
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
    may("admin") ? add : null, // adding a customer is an admin's
  );
  return load();
}

