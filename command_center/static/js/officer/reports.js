// The officer's reports from the field (the M-CCTNS app): an arrest notified with the person's photo (and
// the screening against other cases shown when it is done), a crime at the spot (crime_report.js, kept on
// the phone while offline), a missing person reported by the family and an unidentified body found, each
// with photos. Every report goes through the command centre's API, which checks and audits it; what it
// refuses is shown with its reason.
import { fill, h, label, say } from "../dom.js";
import { getJson, send } from "../session.js";
import { mountCrimeReport } from "./crime_report.js";
import { base64Of, camera, choice, field, numbers, position, reasonOf, valuesOf, whenField } from "./fields.js";

const SCREENING_POLLS_MS = [1000, 2000, 3000, 5000, 8000, 13000, 21000, 30000]; // then it says "later"
const SEXES = [["", "Choose…"], ["male", "male"], ["female", "female"], ["unknown", "unknown"]];

const KINDS = [
  ["arrest", "Arrest", "arrests:record", mountArrest],
  ["crime", "Crime", "crimes:report", mountCrimeReport],
  ["missing", "Missing person", "missing:register", (c) => mountCase(c, MISSING)],
  ["udr", "Body found", "missing:register", (c) => mountCase(c, UDR)],
];

export function mountReports(container, me) {
  const kinds = KINDS.filter(([, , needs]) => me.permissions.includes(needs));
  const panels = kinds.map(([id, , , mount]) => {
    const panel = h("section", { class: "report-panel", id: `officer-report-${id}`, hidden: true });
    mount(panel, me);
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
  fill(container, h("h2", {}, "Report"), h("div", { class: "buttons report-kinds", role: "group", "aria-label": "What to report" }, buttons), panels);
  show(0);
}

// -- arrest notification ------------------------------------------------------------------------------

function mountArrest(container) {
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
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = valuesOf(form, ["arrested_at"]);
    body.sections = (body.sections || "").split(",").map((s) => s.trim()).filter(Boolean);
    say(message, "Sending…");
    try {
      const [taken] = await photo.dataUrls();
      if (taken) body.photo_jpeg = base64Of(taken);
      const arrest = await send("POST", "/arrests", body);
      say(message, `Arrest ${arrest.id} notified: every officer is told.`);
      form.reset();
      photo.clear();
      followScreening(arrest, result);
    } catch (error) {
      say(message, `Not sent: ${reasonOf(error)}`, "error");
    }
  });
  fill(container, h("h3", {}, "Notify an arrest"), form, message, result);
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

function mountCase(container, kind) {
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
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = numbers(valuesOf(form, [kind.when]), ["age_min", "age_max", "latitude", "longitude"]);
    say(message, "Sending…");
    try {
      body.photos_jpeg = (await photos.dataUrls()).map(base64Of);
      const created = await send("POST", kind.path, body);
      say(message, `${kind.what} ${created.id} registered: every officer is told.`);
      form.reset();
      photos.clear();
    } catch (error) {
      say(message, `Not registered: ${reasonOf(error)}`, "error");
    }
  });
  fill(container, h("h3", {}, kind.title), form, message);
  if (where) where.locate();
}
