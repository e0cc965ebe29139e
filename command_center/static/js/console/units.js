// Patrol units (#/units): every unit of the caller's districts with its duty status, crew and last
// position. Those who manage patrols make new units, change a unit's duty status, and set its crew from
// the roster of patrol officers (each shown with the unit they serve in now: crewing moves them).
import { fill, formatDuration, formValues, h, label, say } from "../dom.js";
import { table } from "../records.js";
import { getJson, send } from "../session.js";
import { attempt, choice, field, heading } from "./admin_kit.js";

const DUTY = ["available", "busy", "off_duty"];

function position(unit) {
  const p = unit.position;
  if (!p) return h("span", { class: "muted" }, "no recent fix");
  return [`${p.latitude.toFixed(5)}, ${p.longitude.toFixed(5)}`, h("div", { class: "muted" }, `${formatDuration(p.age_s)} ago`)];
}

export class UnitsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.units = [];
    this.roster = [];
    this.manage = ctx.can("patrol:manage");
  }

  mount(container) {
    this.form = this.manage ? h("form", { class: "filters", id: "unit-form", autocomplete: "off" },
      field("Call sign", { name: "id", required: true, pattern: "[A-Za-z0-9_\\-]{1,64}", maxlength: 64, placeholder: "ISB-MOBILE-07" }),
      field("Name", { name: "name", required: true, maxlength: 200 }),
      field("District", { name: "district", required: true, maxlength: 64 }),
      choice("Duty status", { name: "duty_status" }, DUTY),
      h("button", { type: "submit" }, "Add unit")) : null;
    if (this.form) this.form.addEventListener("submit", (event) => { event.preventDefault(); this.create(); });
    this.message = h("p", { class: "message", id: "units-message", role: "status" });
    this.results = h("div", { id: "units-results" });
    this.crew = h("section", { class: "panel", id: "crew-editor", hidden: true });
    fill(container, heading("Patrol units", "units", () => this.load()), this.form, this.message, this.results, this.crew);
  }

  async show(params) {
    await this.load();
    const unit = this.units.find((u) => u.id === params[0]);
    this.crew.hidden = !(unit && this.manage);
    if (unit && this.manage) this.editCrew(unit);
  }

  async load() {
    try {
      [this.units, this.roster] = await Promise.all([getJson("/patrol/units"), this.manage ? getJson("/patrol/officers") : []]);
      say(this.message, `${this.units.length} unit${this.units.length === 1 ? "" : "s"}`, "");
      this.render();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  render() {
    const rows = this.units.map((u) => ({ ...u, __attrs: { dataset: { unit: u.id } } }));
    fill(this.results, table([
      ["Call sign", (u) => h("strong", {}, u.id)],
      ["Name", (u) => u.name],
      ["District", (u) => u.district],
      ["Duty status", (u) => this.duty(u)],
      ["Crew", (u) => (u.officers.length ? u.officers.map((o) => o.name).join(", ") : h("span", { class: "muted" }, "no officers"))],
      ["Last position", position],
      ["", (u) => (this.manage ? h("a", { href: `#/units/${encodeURIComponent(u.id)}` }, "Crew") : "")],
    ], rows, { id: "units-table" }));
  }

  duty(unit) {
    const badge = h("span", { class: `badge duty-${unit.duty_status}` }, label(unit.duty_status));
    if (!this.manage) return badge;
    const select = choice("", { name: "duty_status", "aria-label": `duty status of ${unit.id}` }, DUTY, unit.duty_status);
    select.addEventListener("change", () => this.change(unit, { duty_status: select.value }, `${unit.id} is ${label(select.value)}`));
    return select;
  }

  async create() {
    const v = formValues(this.form);
    const made = await attempt(this.message, () => send("POST", "/patrol/units", v), (u) => `Unit ${u.id} added: choose its crew`);
    if (made) {
      this.form.reset();
      location.hash = `#/units/${encodeURIComponent(made.id)}`;
    }
  }

  async change(unit, body, done) {
    if (await attempt(this.message, () => send("PATCH", `/patrol/units/${encodeURIComponent(unit.id)}`, body), done)) {
      await this.load();
      say(this.message, done, "info");
    }
  }

  editCrew(unit) {
    const serving = new Set(unit.officers.map((o) => o.user_id));
    const boxes = this.roster.map((o) => h("label", { class: "check", dataset: { officer: o.user_id } },
      h("input", { type: "checkbox", name: "officer", value: o.user_id, checked: serving.has(o.user_id) }),
      ` ${o.name} (${o.government_id}${o.districts.length ? `, ${o.districts.join(", ")}` : ""})`,
      o.unit_id && o.unit_id !== unit.id ? h("span", { class: "muted" }, ` now in ${o.unit_id}`) : null));
    const form = h("form", { id: "crew-form" },
      boxes.length ? h("div", { class: "crew-list" }, boxes) : h("p", { class: "muted" }, "There is no active patrol officer: an administrator adds them under Staff accounts."),
      h("button", { type: "submit" }, "Save crew"));
    form.addEventListener("submit", (event) => { event.preventDefault(); this.saveCrew(unit, form); });
    fill(this.crew, h("header", {}, h("h3", {}, `Crew of ${unit.id} · ${unit.name}`), h("a", { href: "#/units" }, "Close")), form);
  }

  async saveCrew(unit, form) {
    const officer_ids = Array.from(form.querySelectorAll("input[name=officer]:checked")).map((box) => Number(box.value));
    const path = `/patrol/units/${encodeURIComponent(unit.id)}/crew`;
    const done = (u) => `${u.id}: ${u.officers.length ? u.officers.map((o) => o.name).join(", ") : "no officers"}`;
    const saved = await attempt(this.message, () => send("POST", path, { officer_ids }), done);
    if (saved) {
      await this.load();
      say(this.message, done(saved), "info");
      this.editCrew(this.units.find((u) => u.id === unit.id) || saved);
    }
  }
}
