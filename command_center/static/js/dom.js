// Small DOM and formatting helpers. Text is always set as text (never parsed as HTML).

export function $(id) {
  return document.getElementById(id);
}

// h("td", {class: "x", dataset: {id: 1}, onclick: fn}, "text", child, ...)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// The deployment's time zone (command_center.time_zone), read once before any page shows a time; none
// set, or the command centre out of reach (the officer app offline), the browser's own.
export const pageConfig = await fetch("/console/config")
  .then((answer) => (answer.ok ? answer.json() : {}))
  .catch(() => ({}));
export const timeZone = pageConfig.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

// Dates in the browser's order, times always on the 24-hour clock (a control room reads "15:04", never
// "3:04 PM", whatever language the browser was set up in), in the deployment's time zone.
export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, {
    dateStyle: "short", timeStyle: "medium", hourCycle: "h23", timeZone,
  });
}

export function timeOf(iso) {
  return h("time", { datetime: iso }, formatTime(iso));
}

export function formatDistance(metres) {
  if (metres === null || metres === undefined) return "";
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`;
}

const COUNT = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

// A whole number with thousands separators: 120000 -> "120,000".
export function formatCount(n) {
  return COUNT.format(n);
}

// A count with its noun: counted(1, "person") -> "1 person", counted(2, "person") -> "2 persons".
export function counted(n, noun, nouns = `${noun}s`) {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

// A similarity to three decimals, never "-0.000" (a stranger's face can score a hair below zero).
export function formatSimilarity(x) {
  return (Math.abs(x) < 0.0005 ? 0 : x).toFixed(3);
}

// A number of at least 1 to two significant figures, never in exponent notation: 2137 -> "2,100".
export function roughly(n) {
  if (!(n > 0)) return "0";
  const step = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return formatCount(Math.round(n / step) * step);
}

export function label(text) {
  return String(text || "").replaceAll("_", " ");
}

// A message in an element: kind "error" | "info" | "" (clears).
export function say(el, text, kind = "info") {
  el.textContent = text || "";
  el.className = `message ${text ? kind : ""}`;
}

// A Blob (a File too) as a data: URL, to show without a request (the page's CSP admits data: images).
export function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// Offer a Blob as a file download (CSV exports).
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const FORMULA_START = /^[=+\-@\t\r]/;

// CSV text; a cell that a spreadsheet would run as a formula is written with a leading '.
export function toCsv(columns, rows) {
  const cell = (value) => {
    let text = value === null || value === undefined ? "" : String(value);
    if (FORMULA_START.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [columns, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

// Query string from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// The values of a form's named fields, trimmed.
export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    if (typeof value === "string") values[name] = value.trim();
  }
  return values;
}

// A datetime-local input's value as an ISO string with the browser's offset (what the API wants).
export function localToIso(value) {
  return value ? new Date(value).toISOString() : "";
}

export function isoToLocal(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
