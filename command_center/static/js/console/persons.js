// Persons (CRO records): spelling-agnostic search by name, father's name, address or category, and the
// profile with photos, case history and known vehicles. Every search and every view states a reason,
// which the API writes to the audit trail before it answers.
import { fill, formValues, h, label, query, say } from "../dom.js";
import { facts, keepReason, lastReason, reasonField, table } from "../records.js";
import { getJson, loadImage, send } from "../session.js";
import { renderDossier } from "./dossier.js";

const CATEGORIES = ["hbt_offender", "local", "non_local", "rowdy_sheeter", "history_sheeter", "wanted", "missing"];

export class PersonsScreen {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(container) {
    this.form = h("form", { class: "filters", id: "person-search" },
      h("label", {}, "Name or alias (any spelling, Latin or Urdu)", h("input", { name: "q", maxlength: 200, id: "person-q", dir: "auto" })),
      h("label", {}, "Father's name", h("input", { name: "father_name", maxlength: 200, dir: "auto" })),
      h("label", {}, "Address", h("input", { name: "address", maxlength: 300 })),
      h("label", {}, "Category", h("select", { name: "category" }, h("option", { value: "" }, "Any"),
        CATEGORIES.map((c) => h("option", { value: c }, label(c))))),
      reasonField("person-reason"),
      h("button", { type: "submit" }, "Search"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.search(); });
    this.message = h("p", { class: "message", id: "person-message" });
    this.results = h("div", { id: "person-results" });
    this.profile = h("div", { id: "person-profile" });
    this.dossier = h("div", { id: "person-dossier" });
    fill(container, h("h2", {}, "Persons"), this.form, this.message, this.results, this.profile, this.dossier);
  }

  show(params) {
    const id = Number(params[0]);
    fill(this.dossier);
    if (id && params[1] === "dossier") this.openDossier(id);
    else if (id) this.open(id);
    else fill(this.profile);
  }

  // The dossier (#/persons/<id>/dossier): the profile gives way to it; audited with the same reason.
  async openDossier(id) {
    const reason = lastReason();
    fill(this.profile, h("p", {}, h("a", { href: `#/persons/${id}` }, "Back to the profile")));
    if (!reason) {
      fill(this.dossier, h("p", { class: "message error" }, "State a reason in the search form first: every dossier view is audited."));
      return;
    }
    try {
      await renderDossier(this.dossier, id, reason);
    } catch (error) {
      fill(this.dossier, h("p", { class: "message error" }, error.message));
    }
  }

  async search() {
    const values = formValues(this.form);
    keepReason(values.reason);
    say(this.message, "Searching…");
    try {
      const page = await getJson(`/persons/search${query({ ...values, limit: 50 })}`);
      say(this.message, `${page.results.length} found`);
      fill(this.results, table([
        ["Name", (r) => h("a", { href: `#/persons/${r.person.id}` }, r.person.name)],
        ["Aliases", (r) => r.person.aliases.join(", ")],
        ["Father", (r) => r.person.father_name || ""],
        ["CNIC", (r) => r.person.cnic || ""],
        ["District", (r) => r.person.district || ""],
        ["Category", (r) => label(r.person.category)],
        ["Match", (r) => `${Math.round(r.score * 100)} %`],
      ], page.results, { id: "person-table" }));
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async open(id) {
    const reason = lastReason();
    if (!reason) {
      fill(this.profile, h("p", { class: "message error" }, "State a reason in the search form first: every profile view is audited."));
      return;
    }
    fill(this.profile, h("p", { class: "muted" }, "Loading…"));
    try {
      this.renderProfile(await getJson(`/persons/${id}${query({ reason })}`));
    } catch (error) {
      fill(this.profile, h("p", { class: "message error" }, error.message));
    }
  }

  renderProfile(person) {
    const photos = person.photos.map((p) => {
      const img = h("img", { class: "photo", alt: `photo of ${person.name}` });
      loadImage(img, p.url, true);
      return img;
    });
    const note = h("p", { class: "message", id: "follow-message" });
    const follow = h("button", { type: "button", class: "secondary", id: "follow", onclick: () => this.follow(person.id, note) }, "Follow (personal watchlist)");
    fill(this.profile, h("article", { class: "profile" },
      h("header", {}, h("h3", {}, person.name), h("span", { class: "badge" }, label(person.category)), person.archived ? h("span", { class: "badge" }, "archived") : null,
        h("a", { href: `#/persons/${person.id}/dossier`, class: "button", id: "open-dossier" }, "Dossier")),
      h("div", { class: "photos" }, photos.length ? photos : h("p", { class: "muted" }, "No photos.")),
      facts(person, ["id", "name", "photos", "cases", "vehicles", "category", "archived"]),
      h("h4", {}, "Case history"),
      person.cases.length ? table([
        ["FIR", (c) => c.fir_number], ["Police station", (c) => c.police_station], ["Date", (c) => c.fir_date || ""],
        ["Sections", (c) => c.sections.join(", ")], ["Status", (c) => label(c.status)], ["Court / prison", (c) => [c.court, c.prison].filter(Boolean).join(" / ")],
      ], person.cases, { id: "case-table" }) : h("p", { class: "muted" }, "No cases."),
      h("h4", {}, "Known vehicles"),
      person.vehicles.length ? table([["Plate", (v) => v.plate], ["Description", (v) => v.description || ""], ["On hotlist", (v) => (v.hotlist_entry_id ? "yes" : "no")]], person.vehicles)
        : h("p", { class: "muted" }, "None recorded."),
      this.ctx.me.kind === "staff" ? [follow, note] : null));
  }

  async follow(id, note) {
    try {
      await send("POST", `/persons/${id}/follow${query({ reason: lastReason() })}`);
      say(note, "You follow this person: you are told when they are seen, check in or are arrested.");
    } catch (error) {
      say(note, error.message, "error");
    }
  }
}
