// Pieces shared by the records screens (console and officer app): the stated reason every search and
// profile view needs (kept for the session, so an enquiry is stated once), and plain tables.
import { formatTime, h, label } from "./dom.js";

const REASON_KEY = "safecity.reason";

export function lastReason() {
  return sessionStorage.getItem(REASON_KEY) || "";
}

export function keepReason(reason) {
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
}

// The reason input of a search form: required, 5..500 characters, remembered for the session.
export function reasonField(id) {
  return h("label", { class: "reason" }, "Reason (case / FIR / enquiry)",
    h("input", { name: "reason", id, required: true, minlength: 5, maxlength: 500, value: lastReason(), placeholder: "e.g. FIR 123/2025 PS Saddar" }));
}

// A table of objects: columns are [title, (row) => cell content].
export function table(columns, rows, attrs = {}) {
  return h("table", { class: "data", ...attrs },
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", row.__attrs || {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

function shown(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(shown).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return formatTime(value);
  return String(value);
}

// Every field of an object as a definition list (for answers whose shape this page does not fix).
export function facts(object, skip = []) {
  return h("dl", { class: "facts" }, Object.entries(object).filter(([k]) => !skip.includes(k))
    .flatMap(([k, v]) => [h("dt", {}, label(k)), h("dd", {}, shown(v))]));
}
