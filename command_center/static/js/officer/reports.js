// The officer's reports from the field (the M-CCTNS app): an arrest notified with the person's photo (and
// the screening against other cases shown when it is done), a crime at the spot (crime_report.js), a
// missing person reported by the family and an unidentified body found, each with photos. Every report is
// kept on the phone first and sent from there (queue.js for arrests and cases, outbox.js for crimes):
// with no network it waits and goes by itself when the phone is online again, stored once however often
// it is sent. The command centre's API checks and audits each; what it refuses is shown with its reason,
// and a report refused after it left the form stays in the list to be corrected or discarded.
import { fill, formatTime, h, isoToLocal, label, say } from "../dom.js";
import { getJson } from "../session.js";
import { mountCrimeReport } from "./crime_report.js";
import { base64Of, camera, choice, field, numbers, position, valuesOf, whenField } from "./fields.js";
import { Queue } from "./queue.js";

const SCREENING_POLLS_MS = [1000, 2000, 3000, 5000, 8000, 13000, 21000, 30000]; // then it says "later"
const SEXES = [["", "Choose…"], ["male", "male"], ["female", "female"], ["unknown", "unknown"]];

const KINDS = [
  ["arrest", "Arrest", "arrests:record", (c, me, q) => mountArrest(c, q)],
  ["crime", "Crime", "crimes:report", (c, me) => mountCrimeReport(c, me)],
  ["missing", "Missing person", "missing:register", (c, me, q) => mountCase(c, MISSING, q)],
  ["udr", "Body found", "missing:register", (c, me, q) => mountCase(c, UDR, q)],
];
const STATES = { waiting: "waiting to send", sending: "sending…", sent: "sent", refused: "refused" };
const RECORD = { arrest: "arrest", missing: "missing person case", udr: "UDR case" };

// ``counted(n)``: how many reports wait or were refused (the Report tab's badge).
export function mountReports(container, me, counted = () => {}) {
  const kinds = KINDS.filter(([, , needs]) => me.permissions.includes(needs));
  const list = h("div", { id: "officer-queue" });
  const editors = {};
  const queue = new Queue(me.id, () => showQueue(queue, list, editors, counted), (item, record) => {
    if (editors[item.kind]) editors[item.kind].sent(item, record);
  });
  queue.show = (kind) => show(kinds.findIndex(([id]) => id === kind));
  const panels = kinds.map(([id, , , mount]) => {
    const panel = h("section", { class: "report-panel", id: `officer-report-${id}`, hidden: true });
    editors[id] = mount(panel, me, queue);
    return panel;
  });
  const buttons = kinds.map(([id, text], i) => h("button", {
    type: "button", class: "secondary", id: `officer-report-show-${id}`, "aria-controls": `officer-report-${id}`,
    onclick: () => show(i),
  }, text));
  const show = (chosen) => panels.forEach((panel, i) => {
    panel.hidden = i !== chosen;
    buttons[i].setAttribute("aria-pressed", String(i === chosen));
  });
  fill(container, h("h2", {}, "Report"), h("div", { class: "buttons report-kinds", role: "group", "aria-label": "What to report" }, buttons),
    h("section", { class: "queue" }, h("h3", {}, "Kept on this phone"), list), panels);
  show(0);
  showQueue(queue, list, editors, counted);
  queue.flush();
}

async function showQueue(queue, list, editors, counted) {
  const items = await queue.items();
  counted(items.filter((i) => i.state !== "sent").length);
  if (!items.length) {
    fill(list, h("p", { class: "muted", id: "officer-queue-empty" }, "Nothing kept: every arrest and case was sent."));
    return;
  }
  fill(list, items.map((item) => h("article", { class: `queued ${item.state}`, dataset: { key: item.key, kind: item.kind, state: item.state } },
    h("h4", {}, item.title, " ", h("span", { class: `badge ${item.state}` }, STATES[item.state])),
    h("p", { class: "muted" }, `kept ${formatTime(item.queued_at)}`,
      item.state === "sent" ? ` · sent ${formatTime(item.sent_at)} as ${RECORD[item.kind]} ${item.record_id}` : ""),
    item.state === "refused" ? h("p", { class: "error" }, `Refused: ${item.reason}`) : null,
    item.state === "refused" ? h("div", { class: "buttons" },
      h("button", { type: "button", onclick: () => editors[item.kind].edit(item) }, "Correct and send again"),
      h("button", { type: "button", class: "secondary", onclick: () => confirm("Discard this report? It was never stored.") && queue.remove(item.key) }, "Discard")) : null,
    item.state === "sent" ? h("button", { type: "button", class: "secondary", onclick: () => queue.remove(item.key) }, "Clear") : null)));
}

// A form that goes through the queue: ``body()`` the values to send (or null: not ready), ``title``
// how the list names them. Sent at once when there is network; refused at once, the form keeps the
// values and says why; no network, it is kept and the form is cleared for the next one.
function queued(kind, path, form, message, queue, { body, title, photosOf, cleared, sent, refusedAs = "Not sent" }) {
  let editing = null; // the refused item being corrected
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(message, "Sending…"); // at once: what the last answer said is no longer true
    const values = await body();
    if (!values) return;
    const earlier = editing && (await queue.get(editing));
    if (earlier && earlier.body && !photosOf(values).length) Object.assign(values, photosOf.keep(earlier.body));
    let item;
    try {
      item = earlier ? await queue.correct(earlier.key, values, title(values)) : await queue.add(kind, path, values, title(values));
    } catch (error) {
      say(message, `The phone cannot keep this report (${error.message}): send fewer photos.`, "error");
      return;
    }
    await queue.flush();
    const now = await queue.get(item.key);
    if (now && now.state === "refused") {
      if (!earlier) await queue.remove(item.key); // nothing kept: the form still holds it
      say(message, `${refusedAs}: ${now.reason}`, "error");
      return;
    }
    editing = null;
    form.reset();
    cleared();
    if (!now || now.state !== "sent") say(message, "No network: kept on this phone and sent when it is back online.");
  });
  return {
    sent: (item, record) => sent(item, record, message),
    edit(item) {
      editing = item.key;
      queue.show(kind);
      for (const [name, value] of Object.entries(item.body)) {
        const input = form.elements[name];
        if (!input || input.type === "file") continue;
        input.value = Array.isArray(value) ? value.join(", ") : input.type === "datetime-local" ? isoToLocal(new Date(value)) : value;
      }
      say(message, `Correct what was refused (${item.reason}) and send again; the photos kept stay unless you take new ones.`, "error");
      form.scrollIntoView();
    },
  };
}

// -- arrest notification ------------------------------------------------------------------------------

function mountArrest(container, queue) {
  const photo = camera("officer-arrest-photo", "Photo of the arrested person");
  const form = h("form", { class: "filters", id: "officer-arrest-form" },
    photo.element,
    field("Name", { name: "person_name", required: true, maxlength: 200, id: "officer-arrest-name" }),
    field("Father's name", { name: "father_name", maxlength: 200, id: "officer-arrest-father" }),
    field("CNIC", { name: "cnic", maxlength: 15, inputmode: "numeric", placeholder: "00000-0000000-0", id: "officer-arrest-cnic" }),
    field("FIR number", { name: "fir_number", required: true, maxlength: 64, placeholder: "123/2025", id: "officer-arrest-fir" }),
    field("Sections (comma between them)", { name: "sections", required: true, maxlength: 500, placeholder: "392 PPC, 34 PPC", id: "officer-arrest-sections" }),
    field("Police station", { name: "police_station", required: true, maxlength: 200, id: "officer-arrest-ps" }),
    whenField("Arrested at", "arrested_at"),
    field("Place of arrest", { name: "place", maxlength: 500 }),
    h("button", { type: "submit" }, "Notify arrest"));
  const message = h("p", { class: "message", id: "officer-arrest-message", role: "status" });
  const result = h("div", { id: "officer-arrest-result", "aria-live": "polite" });
  const photosOf = (body) => (body.photo_jpeg ? [body.photo_jpeg] : []);
  photosOf.keep = (body) => (body.photo_jpeg ? { photo_jpeg: body.photo_jpeg } : {});
  fill(container, h("h3", {}, "Notify an arrest"), form, message, result);
  return queued("arrest", "/arrests", form, message, queue, {
    async body() {
      const body = valuesOf(form, ["arrested_at"]);
      body.sections = (body.sections || "").split(",").map((s) => s.trim()).filter(Boolean);
      const [taken] = await photo.dataUrls();
      if (taken) body.photo_jpeg = base64Of(taken);
      return body;
    },
    title: (body) => `Arrest: ${body.person_name}, FIR ${body.fir_number}`,
    photosOf,
    cleared: () => {
      photo.clear();
      form.elements.arrested_at.value = isoToLocal(new Date());
    },
    sent(item, record, said) {
      say(said, `Arrest ${record.id} notified: every officer is told.`);
      followScreening(record, result);
    },
  });
}

async function followScreening(arrest, result) {
  const reason = `Screening of arrest ${arrest.id} I notified (FIR ${arrest.fir_number})`;
  showScreening(arrest, result);
  for (const wait of SCREENING_POLLS_MS) {
    if (arrest.status === "screened") return;
    await new Promise((resolve) => setTimeout(resolve, wait));
    try {
      arrest = await getJson(`/arrests/${arrest.id}?reason=${encodeURIComponent(reason)}`);
      showScreening(arrest, result);
    } catch (error) {
      // no network now: try again at the next step
    }
  }
  if (arrest.status !== "screened") say(result.querySelector(".message"), "Still checking: the result comes as a notice.");
}

function showScreening(arrest, result) {
  const s = arrest.screening;
  const done = arrest.status === "screened" && s;
  const matches = done ? s.matches || [] : [];
  const verdict = !done ? "Checking against other cases…"
    : s.wanted_elsewhere ? "Wanted in another case: see the matches."
      : matches.length ? "Possible links to other records: see the matches."
        : "Not found in other cases.";
  fill(result, h("article", { class: `screening ${done && s.wanted_elsewhere ? "wanted" : ""}`, dataset: { arrest: arrest.id, status: arrest.status } },
    h("h4", {}, `Arrest ${arrest.id}: ${arrest.person_name}`),
    h("p", { class: "verdict", id: "officer-arrest-verdict" }, verdict),
    done ? h("p", { class: "muted" }, `face: ${s.face}`) : null,
    matches.length ? h("ul", { class: "matches" }, matches.map((m) => h("li", {}, `${label(m.kind)} ${m.name} (${label(m.how)}${m.strong ? ", strong" : ""})${m.detail ? `: ${m.detail}` : ""}`))) : null,
    h("p", { class: "message" })));
}

// -- missing persons and unidentified bodies ------------------------------------------------------------

const MISSING = {
  id: "missing", path: "/missing", title: "Register a missing person", when: "last_seen_at", what: "Missing person case",
  fields: () => [
    field("Name", { name: "name", required: true, maxlength: 200, id: "officer-missing-name" }),
    field("Father's name", { name: "father_name", maxlength: 200 }),
    field("CNIC", { name: "cnic", maxlength: 15, inputmode: "numeric", placeholder: "00000-0000000-0" }),
    whenField("Last seen at", "last_seen_at"),
    field("Last seen where", { name: "last_seen_place", maxlength: 500 }),
    field("Report / FIR number", { name: "report_number", maxlength: 64 }),
    field("Who reported", { name: "contact_name", maxlength: 200 }),
    field("Their mobile", { name: "contact_phone", maxlength: 20, inputmode: "tel" }),
  ],
};

const UDR = {
  id: "udr", path: "/udr", title: "Register an unidentified body", when: "found_at", what: "Unidentified body case",
  fields: () => [
    field("UDR number", { name: "udr_number", required: true, maxlength: 64, id: "officer-udr-number" }),
    whenField("Found at", "found_at"),
    field("Found where", { name: "found_place", maxlength: 500 }),
  ],
};

function mountCase(container, kind, queue) {
  const photos = camera(`officer-${kind.id}-photos`, "Photos (up to 3)", 3);
  const where = kind.id === "udr" ? position(`officer-${kind.id}`) : null;
  const form = h("form", { class: "filters", id: `officer-${kind.id}-form` },
    photos.element,
    kind.fields(),
    choice("Sex", "sex", SEXES, { required: true, id: `officer-${kind.id}-sex` }),
    field("Age from", { name: "age_min", type: "number", min: 0, max: 120, inputmode: "numeric" }),
    field("Age to", { name: "age_max", type: "number", min: 0, max: 120, inputmode: "numeric" }),
    field("Clothing", { name: "clothing", maxlength: 1000 }),
    field("Marks (scars, moles, tattoos)", { name: "marks", maxlength: 1000 }),
    field("Police station", { name: "police_station", maxlength: 200 }),
    where ? where.element : null,
    h("button", { type: "submit" }, "Register"));
  const message = h("p", { class: "message", id: `officer-${kind.id}-message`, role: "status" });
  const photosOf = (body) => body.photos_jpeg || [];
  photosOf.keep = (body) => ({ photos_jpeg: body.photos_jpeg || [] });
  fill(container, h("h3", {}, kind.title), form, message);
  if (where) where.locate();
  return queued(kind.id, kind.path, form, message, queue, {
    async body() {
      const body = numbers(valuesOf(form, [kind.when]), ["age_min", "age_max", "latitude", "longitude"]);
      body.photos_jpeg = (await photos.dataUrls()).map(base64Of);
      return body;
    },
    title: (body) => `${kind.what}: ${body.name || body.udr_number}`,
    refusedAs: "Not registered",
    photosOf,
    cleared: () => {
      photos.clear();
      form.elements[kind.when].value = isoToLocal(new Date());
      if (where) where.locate();
    },
    sent: (item, record, said) => say(said, `${kind.what} ${record.id} registered: every officer is told.`),
  });
}
