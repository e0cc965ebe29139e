// Who is on a watch list. Reading the members is a search of the watchlist, so it states a reason (the
// API audits it); the list's editors add profiles by id and remove one with a reason of its own. The
// list's threshold follows its size: every change hands the list back to the screen.
import { counted, fill, formatCount, formatTime, h, label, query, say } from "../dom.js";
import { keepReason, lastReason, table } from "../records.js";
import { getJson, loadImage, send } from "../session.js";

const PAGE = 200;

function thumb(profile) {
  const img = h("img", { class: "face", alt: `photo of ${profile.name}`, width: 48, height: 48 });
  loadImage(img, profile.photo, true);
  return img;
}

export class MembersPanel {
  // ``onChanged(view)``: the list after an addition or removal.
  constructor(ctx, w, onChanged) {
    this.ctx = ctx;
    this.w = w;
    this.onChanged = onChanged;
  }

  element() {
    this.count = h("span", { id: "members-count" });
    this.reason = h("input", { name: "reason", id: "members-reason", required: true, minlength: 5, maxlength: 500, value: lastReason(), placeholder: "e.g. FIR 123/2025 PS Saddar" });
    this.message = h("p", { class: "message", id: "members-message", role: "status" });
    this.results = h("div", { id: "members-results" });
    const form = h("form", { class: "filters", id: "members-form" },
      h("label", { class: "reason" }, "Reason (case / FIR / enquiry)", this.reason),
      h("button", { type: "submit", id: "members-show" }, "Show members"),
      this.addControls());
    form.addEventListener("submit", (event) => { event.preventDefault(); this.load(); });
    this.update(this.w);
    return h("section", { class: "panel", id: "list-members" }, h("h3", {}, "Members ", this.count), form, this.message, this.results);
  }

  addControls() {
    if (!this.w.may_edit) return null;
    if (this.w.all_profiles) return h("p", { class: "muted" }, "This list holds every profile in force: nobody is added to it or removed from it.");
    this.ids = h("input", { id: "add-members-ids", placeholder: "e.g. 12, 40, 41", pattern: "[0-9 ,]+", maxlength: 2000 });
    return h("span", { class: "inline" },
      h("label", {}, "Add profiles (ids)", this.ids),
      h("button", { type: "button", id: "add-members", onclick: () => this.add() }, "Add to list"));
  }

  update(w) {
    this.w = w;
    this.count.textContent = `(${counted(w.members, "person")}, ${counted(w.gallery_size, "enrolled face image")})`;
  }

  // The stated reason, checked as the form would check it.
  stated() {
    if (!this.reason.reportValidity()) return null;
    const reason = this.reason.value.trim();
    keepReason(reason);
    return reason;
  }

  async load() {
    const reason = this.stated();
    if (!reason) return;
    try {
      const page = await getJson(`/watchlists/${this.w.id}/members${query({ reason, limit: PAGE })}`);
      say(this.message, page.total > page.profiles.length ? `${page.profiles.length} of ${formatCount(page.total)} shown` : `${page.total} on the list`);
      fill(this.results, page.profiles.length ? table([
        ["", thumb], ["Profile", (p) => String(p.id)], ["Name", (p) => p.name], ["Category", (p) => label(p.category)],
        ["Status", (p) => `${label(p.status)}${p.matching ? "" : " (not matching)"}`], ["Legal basis", (p) => p.legal_reference],
        ["Lapses", (p) => formatTime(p.expires_at)], ["", (p) => this.removal(p)],
      ], page.profiles.map((p) => ({ ...p, __attrs: { dataset: { profile: p.id } } })), { id: "members-table" }) : null);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async add() {
    const ids = (this.ids.value.match(/[0-9]+/g) || []).map(Number);
    if (!ids.length) {
      say(this.message, "Give the profile ids to add (the number shown with each watchlist entry).", "error");
      return;
    }
    const reason = this.stated();
    if (!reason) return;
    try {
      const after = await send("POST", `/watchlists/${this.w.id}/members`, { profile_ids: ids, reason });
      this.ids.value = "";
      this.onChanged(after);
      say(this.message, `Added. ${after.calibration_note}`, "info");
      if (this.results.childElementCount) this.load();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  // A remove button that asks, in place, why the profile leaves the list.
  removal(profile) {
    if (!this.w.may_edit || this.w.all_profiles) return "";
    const cell = h("span", { class: "inline" });
    const ask = () => {
      const why = h("input", { class: "remove-reason", required: true, minlength: 5, maxlength: 500, placeholder: "Why remove?" });
      const confirm = async () => {
        if (!why.reportValidity()) return;
        try {
          const after = await send("DELETE", `/watchlists/${this.w.id}/members/${profile.id}${query({ reason: why.value.trim() })}`);
          this.onChanged(after);
          say(this.message, `${profile.name} removed. ${after.calibration_note}`, "info");
          this.load();
        } catch (error) {
          say(this.message, error.message, "error");
        }
      };
      fill(cell, why, h("button", { type: "button", class: "danger confirm-remove", onclick: confirm }, "Remove"));
      why.focus();
    };
    return fill(cell, h("button", { type: "button", class: "secondary remove", onclick: ask }, "Remove…"));
  }
}
