// Vehicle search on the hotlist: exact, misread (O/0, B/8 ...), partial or wildcard registration numbers.
import { fill, formValues, h, label, query, say } from "../dom.js";
import { keepReason, reasonField, table } from "../records.js";
import { getJson } from "../session.js";

export function vehicleTable(results) {
  return table([
    ["Plate", (v) => h("span", { class: "plate" }, v.plate)],
    ["Status", (v) => label(v.status) + (v.alerting ? "" : " (not alerting)")],
    ["Reason", (v) => v.reason],
    ["Case", (v) => v.case_reference],
    ["Vehicle", (v) => [v.vehicle, v.owner].filter(Boolean).join(" · ")],
    ["Priority", (v) => `P${v.priority}`],
    ["Match", (v) => `${label(v.match.kind)} ${Math.round(v.match.score * 100)} %`],
  ], results, { id: "vehicle-table" });
}

// The hotlist entries found (null when the search failed, its reason in ``message``).
export async function searchVehicles(form, message, results) {
  const values = formValues(form);
  keepReason(values.reason);
  say(message, "Searching…");
  try {
    const page = await getJson(`/vehicles/search${query({ q: values.q, reason: values.reason, limit: 50 })}`);
    say(message, `${page.results.length} found`);
    fill(results, vehicleTable(page.results));
    return page.results;
  } catch (error) {
    say(message, error.message, "error");
    return null;
  }
}

export function vehicleForm(idPrefix) {
  return h("form", { class: "filters", id: `${idPrefix}-search` },
    h("label", {}, "Registration number (or LEA-12*)", h("input", { name: "q", required: true, maxlength: 40, id: `${idPrefix}-q` })),
    reasonField(`${idPrefix}-reason`),
    h("button", { type: "submit" }, "Search"));
}

export class VehiclesScreen {
  mount(container) {
    const form = vehicleForm("vehicle");
    const message = h("p", { class: "message", id: "vehicle-message" });
    const results = h("div", { id: "vehicle-results" });
    form.addEventListener("submit", (event) => { event.preventDefault(); searchVehicles(form, message, results); });
    fill(container, h("h2", {}, "Vehicles"), form, message, results);
  }
}
