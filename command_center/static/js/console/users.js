// Staff accounts (#/users, admins): every account with its role, districts and patrol unit; a new account;
// a change of role or districts (which ends the account's sessions), disabling and enabling it, lifting a
// sign-in lockout, and putting a patrol officer in a unit (or taking them out of theirs). Each change is
// recorded with the reason typed above the table.
import { fill, formatTime, formValues, h, label, say } from "../dom.js";
import { table } from "../records.js";
import { getJson, send } from "../session.js";
import { attempt, choice, districtList, field, heading, reasonOf, twoStep } from "./admin_kit.js";

const ROLES = ["operator", "supervisor", "patrol_officer", "records_clerk", "admin"];

export class UsersScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.users = [];
    this.units = [];
  }

  mount(container) {
    this.form = h("form", { class: "filters", id: "user-form", autocomplete: "off" },
      field("Government ID", { name: "government_id", required: true, pattern: "[A-Za-z0-9\\-]{4,32}", maxlength: 32 }),
      field("Mobile", { name: "mobile", required: true, maxlength: 20, placeholder: "03XXXXXXXXX" }),
      field("Name", { name: "name", required: true, maxlength: 200 }),
      choice("Role", { name: "role" }, ROLES),
      field("Districts (comma-separated)", { name: "districts", placeholder: "Islamabad, Rawalpindi" }),
      h("button", { type: "submit" }, "Add account"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.create(); });
    this.reason = h("input", { id: "users-reason", maxlength: 500, placeholder: "e.g. posted to Saddar, order 41/2026" });
    this.message = h("p", { class: "message", id: "users-message", role: "status" });
    this.results = h("div", { id: "users-results" });
    fill(container, heading("Staff accounts", "users", () => this.load()), this.form,
      h("div", { class: "filters" }, h("label", { class: "reason" }, "Reason for a change (recorded in the audit trail)", this.reason)),
      this.message, this.results);
  }

  async show() {
    await this.load();
  }

  async load() {
    try {
      const [users, units] = await Promise.all([getJson("/users"), this.ctx.can("patrol:read") ? getJson("/patrol/units") : []]);
      this.users = users;
      this.units = units;
      this.render();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  unitOf(user) {
    return this.units.find((u) => u.officers.some((o) => o.user_id === user.id)) || null;
  }

  render() {
    const rows = this.users.map((u) => ({ ...u, __attrs: { dataset: { user: u.id }, class: u.active ? null : "inactive" } }));
    fill(this.results, table([
      ["Name", (u) => [h("div", { class: "name" }, u.name), h("div", { class: "muted" }, `since ${formatTime(u.created_at)}`)]],
      ["Government ID", (u) => u.government_id],
      ["Mobile", (u) => u.mobile],
      ["Role", (u) => choice("", { name: "role", "aria-label": `role of ${u.name}` }, ROLES, u.role)],
      ["Districts", (u) => h("input", { name: "districts", value: u.districts.join(", "), "aria-label": `districts of ${u.name}` })],
      ["Patrol unit", (u) => this.unitCell(u)],
      ["Account", (u) => h("span", { class: `badge ${u.active ? "status-resolved" : "status-dismissed"}` }, u.active ? "active" : "disabled")],
      ["", (u) => this.actions(u)],
    ], rows, { id: "users-table" }));
  }

  unitCell(user) {
    if (user.role !== "patrol_officer" || !this.ctx.can("patrol:manage")) {
      const unit = this.unitOf(user);
      return unit ? unit.id : "";
    }
    const current = this.unitOf(user);
    const select = choice("", { name: "unit", "aria-label": `unit of ${user.name}` },
      [["", "— none —"], ...this.units.map((u) => [u.id, `${u.id} · ${u.name}`])], current ? current.id : "");
    select.addEventListener("change", () => this.assign(user, current, select.value));
    return select;
  }

  actions(user) {
    return h("div", { class: "inline" },
      h("button", { type: "button", class: "secondary", onclick: (e) => this.save(user, e.target.closest("tr")) }, "Save role and districts"),
      h("button", { type: "button", class: "secondary", onclick: () => this.unlock(user) }, "Unlock sign-in"),
      user.active
        ? twoStep("Disable", "Really disable?", () => this.setActive(user, false))
        : h("button", { type: "button", class: "secondary", onclick: () => this.setActive(user, true) }, "Enable"));
  }

  async create() {
    const v = formValues(this.form);
    const body = { government_id: v.government_id, mobile: v.mobile, name: v.name, role: v.role, districts: districtList(v.districts || "") };
    const made = await attempt(this.message, () => send("POST", "/users", body), (u) => `Account ${u.id} made for ${u.name} (${label(u.role)})`);
    if (made) {
      this.form.reset();
      await this.load();
      say(this.message, `Account ${made.id} made for ${made.name} (${label(made.role)})`, "info");
    }
  }

  async change(user, body, done) {
    const reason = reasonOf(this.reason, this.message);
    if (!reason) return;
    const changed = await attempt(this.message, () => send("PATCH", `/users/${user.id}`, { ...body, reason }), done);
    if (changed) {
      await this.load();
      say(this.message, done, "info");
    }
  }

  save(user, row) {
    const role = row.querySelector("select[name=role]").value;
    const districts = districtList(row.querySelector("input[name=districts]").value);
    const body = { districts };
    if (role !== user.role) body.role = role;
    return this.change(user, body, `${user.name}: ${label(role)}, ${districts.join(", ") || "no districts"} (their sessions were ended)`);
  }

  setActive(user, active) {
    return this.change(user, { active }, `${user.name} ${active ? "enabled" : "disabled"}`);
  }

  async unlock(user) {
    const reason = reasonOf(this.reason, this.message);
    if (!reason) return;
    await attempt(this.message, () => send("POST", `/users/${user.id}/unlock`, { reason }),
      (answer) => `${user.name} may sign in again (${answer.cleared} lock${answer.cleared === 1 ? "" : "s"} and counts cleared)`);
  }

  // A crew is set as a whole: the unit's officers with this one added (the API takes them out of any
  // other unit), or the old unit's officers without them.
  async assign(user, from, unitId) {
    const crewOf = (unit) => unit.officers.map((o) => o.user_id);
    const unit = this.units.find((u) => u.id === unitId);
    const request = unit
      ? () => send("POST", `/patrol/units/${encodeURIComponent(unit.id)}/crew`, { officer_ids: [...crewOf(unit), user.id] })
      : () => send("POST", `/patrol/units/${encodeURIComponent(from.id)}/crew`, { officer_ids: crewOf(from).filter((id) => id !== user.id) });
    const done = unit ? `${user.name} now serves in ${unit.id}` : `${user.name} is in no unit now`;
    if (await attempt(this.message, request, done)) {
      await this.load();
      say(this.message, done, "info");
    }
  }
}
