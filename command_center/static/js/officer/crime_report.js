// A crime reported at the spot (M-CCTNS crime mapping): GPS (or the position typed in), the crime type
// from the command centre's list, when, what happened and photos. The report is kept on the phone first
// and sent from there (outbox.js): with no network it waits, listed as "waiting to send", and goes by
// itself when the phone is online again, stored once however often it is sent.
import { fill, formatTime, h, isoToLocal, label, say } from "../dom.js";
import { getJson } from "../session.js";
import { camera, choice, field, numbers, position, valuesOf, whenField } from "./fields.js";
import { Outbox } from "./outbox.js";

const TYPES_KEY = "safecity.officer.crime_types"; // the list as last fetched, for a report made offline
const MAX_PHOTOS = 3; // what the phone's storage holds for a waiting report

async function crimeTypes() {
  try {
    const types = await getJson("/crimes/types");
    localStorage.setItem(TYPES_KEY, JSON.stringify(types));
    return types;
  } catch (error) {
    return JSON.parse(localStorage.getItem(TYPES_KEY) || "[]");
  }
}

export function mountCrimeReport(container, me) {
  const type = choice("Crime type", "type", [["", "Choose…"]], { required: true, id: "officer-crime-type" });
  crimeTypes().then((types) => {
    const select = type.querySelector("select");
    select.append(...types.map((t) => h("option", { value: t.type, title: t.description }, t.label)));
  });
  const where = position("officer-crime");
  const photos = camera("officer-crime-photos", `Photos of the scene (up to ${MAX_PHOTOS})`, MAX_PHOTOS);
  const form = h("form", { class: "filters", id: "officer-crime-form" },
    type,
    field("Details (needed for type 'other')", { name: "type_detail", maxlength: 200 }),
    whenField("When it happened", "occurred_at"),
    field("What happened", { name: "description", maxlength: 4000, rows: 4, id: "officer-crime-description" }, "textarea"),
    where.element,
    field("Place (as people name it)", { name: "place", maxlength: 500 }),
    field("Police station", { name: "police_station", maxlength: 200 }),
    field("FIR number, if registered", { name: "fir_number", maxlength: 64 }),
    photos.element,
    h("button", { type: "submit" }, "Send report"));
  const message = h("p", { class: "message", id: "officer-crime-message", role: "status" });
  const waiting = h("div", { id: "officer-outbox" });
  const outbox = new Outbox(me.id, () => showWaiting(outbox, waiting), (item, report) => {
    say(message, `Crime report ${report.id} sent.`);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const report = numbers(valuesOf(form, ["occurred_at"]), ["latitude", "longitude"]);
    if (!("latitude" in report && "longitude" in report)) {
      say(message, "Give the position: use the GPS or type latitude and longitude.", "error");
      return;
    }
    let item;
    try {
      item = outbox.add(report, await photos.dataUrls());
    } catch (error) {
      say(message, `The phone cannot store this report (${error.message}): send fewer photos.`, "error");
      return;
    }
    say(message, "Sending…");
    await outbox.flush();
    const left = outbox.get(item.key);
    if (left && left.refused) { // nothing stored: the officer corrects the form and sends again
      outbox.remove(item.key);
      say(message, `Not sent: ${left.refused}`, "error");
      return;
    }
    form.reset();
    form.elements.occurred_at.value = isoToLocal(new Date());
    photos.clear();
    where.locate();
    if (left) say(message, "No network: the report is kept on this phone and sent when it is back online.");
  });
  fill(container, h("h3", {}, "Report a crime"), form, message, h("h3", {}, "Waiting to send"), waiting);
  where.locate();
  showWaiting(outbox, waiting);
  outbox.flush();
}

function showWaiting(outbox, list) {
  const items = outbox.items();
  if (!items.length) {
    fill(list, h("p", { class: "muted", id: "officer-outbox-empty" }, "Nothing waiting: every report was sent."));
    return;
  }
  fill(list, items.map((item) => h("article", { class: "queued", dataset: { key: item.key } },
    h("h4", {}, label(item.report.type), " ", h("span", { class: `badge ${item.refused ? "refused" : "waiting"}` },
      item.refused ? "refused" : "waiting to send")),
    h("p", {}, item.report.description || item.report.place || ""),
    h("p", { class: "muted" }, `kept ${formatTime(item.queued_at)}`, item.photos.length ? ` · ${item.photos.length} photo(s)` : ""),
    item.refused ? h("p", { class: "error" }, item.refused) : null,
    item.refused ? h("button", { type: "button", class: "secondary", onclick: () => outbox.remove(item.key) }, "Discard") : null)));
}
