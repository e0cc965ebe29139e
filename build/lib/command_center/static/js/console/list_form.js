// The form that makes a new watch list or changes one (its editors only): mode, priority, where it is
// live, its false-alert target and raised threshold floor, acknowledgement, who may see and change it,
// archive. While the target, floor or size is edited, the threshold they would give is previewed from
// the API (nothing is stored). Saving sends only the fields that changed, with the stated reason; a
// refusal (a list that cannot be live at its target) is shown in the server's words.
import { fill, h, label, query, say } from "../dom.js";
import { getJson, send } from "../session.js";
import { calibrationText, cameraName, PURPOSES, ROLES } from "./list_words.js";

const MIN_STRANGERS = 10; // target_fpir 0.1
const MAX_STRANGERS = 1e9; // target_fpir 1e-9
const DEFAULT_STRANGERS = 10000;
const PREVIEW_DELAY_MS = 200;

function checks(name, options, chosen, id) {
  const picked = new Set(chosen);
  return h("div", { class: "checks", id }, options.length
    ? options.map(([value, text]) => h("label", { class: "check" },
      h("input", { type: "checkbox", name, value, checked: picked.has(value) }), ` ${text}`))
    : h("span", { class: "muted" }, "none known"));
}

function ticked(form, name) {
  return Array.from(form.querySelectorAll(`input[name=${name}]:checked`), (box) => box.value).sort();
}

// Grants as role checkboxes and a free field of account ids; grants the checkboxes cannot show stay.
function grantsField(prefix, name, grants, hint) {
  const roles = ROLES.map((r) => [`role:${r}`, `${label(r)}s`]);
  const users = grants.filter((g) => g.startsWith("user:")).map((g) => g.slice(5)).join(", ");
  return h("fieldset", { class: "grants" }, h("legend", {}, `${name === "viewers" ? "Who may see it" : "Who may change it"}`),
    checks(name, roles, grants, `${prefix}-${name}`),
    h("label", {}, "and these accounts (ids)", h("input", { name: `${name}_users`, value: users, placeholder: "e.g. 12, 40", pattern: "[0-9 ,]*", id: `${prefix}-${name}-users` })),
    h("p", { class: "muted" }, hint));
}

function grantsOf(form, name) {
  const users = (form.elements[`${name}_users`].value.match(/[0-9]+/g) || []).map((id) => `user:${Number(id)}`);
  return [...ticked(form, name), ...users].sort();
}

function sameSet(a, b) {
  const left = [...a].sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((v, i) => v === right[i]);
}

// Cameras and districts a list may name: those the console knows, and whatever the list names already.
function scopeOptions(ctx, w) {
  const cameras = new Set([...ctx.cameras.keys(), ...(w ? w.cameras : [])]);
  const districts = new Set([...Array.from(ctx.cameras.values(), (c) => c.district), ...ctx.me.districts, ...(w ? w.districts : [])]);
  return {
    cameras: [...cameras].sort().map((id) => [id, cameraName(ctx, id)]),
    districts: [...districts].filter(Boolean).sort().map((d) => [d, d]),
  };
}

export class ListForm {
  // ``w``: the list to change, or null for a new one; ``onSaved(view)`` after the API accepted it.
  constructor(ctx, w, onSaved) {
    this.ctx = ctx;
    this.w = w;
    this.onSaved = onSaved;
    this.prefix = w ? "list-edit" : "list-new";
    this.previewSeq = 0;
  }

  element() {
    const w = this.w;
    const p = this.prefix;
    const scope = scopeOptions(this.ctx, w);
    const strangers = w ? Math.round(1 / w.target_fpir) : DEFAULT_STRANGERS;
    this.preview = h("div", { class: "preview", id: `${p}-preview`, "aria-live": "polite" });
    this.message = h("p", { class: "message", id: `${p}-message`, role: "status" });
    const gallery = w && !w.all_profiles
      ? h("label", {}, "Preview at this size (enrolled face images)", h("input", { name: "gallery", type: "number", min: 0, max: 100000000, value: w.gallery_size, id: `${p}-gallery` }))
      : null;
    this.form = h("form", { class: "list-form", id: `${p}-form` },
      h("label", {}, "Name", h("input", { name: "name", required: true, minlength: 3, maxlength: 100, value: w ? w.name : "", id: `${p}-name` })),
      h("label", {}, "Purpose", h("select", { name: "purpose", id: `${p}-purpose` }, PURPOSES.map((v) => h("option", { value: v, selected: w && w.purpose === v }, label(v))))),
      h("label", { class: "wide" }, "Description", h("input", { name: "description", maxlength: 500, value: w ? w.description : "" })),
      h("label", {}, "Mode", h("select", { name: "mode", id: `${p}-mode`, disabled: w && w.all_profiles },
        h("option", { value: "search", selected: !w || w.mode === "search" }, "search only (photo searches, never alerts)"),
        h("option", { value: "live", selected: w && w.mode === "live" }, "LIVE (camera alerts)"))),
      h("label", {}, "Priority", h("select", { name: "priority", id: `${p}-priority` }, [1, 2, 3, 4, 5].map((n) => h("option", { value: n, selected: (w ? w.priority : 3) === n }, `P${n}${n === 1 ? " (most urgent)" : ""}`)))),
      h("label", {}, "One false alert per … strangers passing a camera",
        h("input", { name: "strangers", type: "number", required: true, min: MIN_STRANGERS, max: MAX_STRANGERS, step: 1, value: strangers, id: `${p}-target` })),
      h("label", {}, "Raised threshold floor (empty: none)",
        h("input", { name: "floor", type: "number", min: 0.001, max: 0.99, step: 0.001, value: w && w.threshold_floor !== null ? w.threshold_floor : "", id: `${p}-floor` })),
      gallery,
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "requires_ack", checked: w ? w.requires_ack : true }), " An operator must acknowledge its alerts"),
      w ? h("label", { class: "check" }, h("input", { type: "checkbox", name: "archived", checked: w.status === "archived", id: `${p}-archived` }), " Archived (matches nothing, hidden from the list)") : null,
      h("fieldset", { class: "wide" }, h("legend", {}, "Live on these cameras"), checks("cameras", scope.cameras, w ? w.cameras : [], `${p}-cameras`)),
      h("fieldset", { class: "wide" }, h("legend", {}, "or in these districts"), checks("districts", scope.districts, w ? w.districts : [], `${p}-districts`),
        h("p", { class: "muted" }, "Nothing ticked: live everywhere. Cameras ticked: only those cameras.")),
      grantsField(p, "viewers", w ? w.viewers : [], "Nothing ticked: everyone who may read the watchlist. Administrators always may."),
      grantsField(p, "editors", w ? w.editors : ["role:supervisor"], "Nothing ticked: administrators only."),
      this.preview,
      h("label", { class: "wide reason" }, "Reason for the change (audited)", h("input", { name: "reason", required: true, minlength: 5, maxlength: 500, id: `${p}-reason`, placeholder: "e.g. Order 14/2025, SSP Operations" })),
      h("div", { class: "wide" }, h("button", { type: "submit", id: `${p}-save` }, w ? "Save changes" : "Create list"), this.message));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
    if (w) {
      this.form.addEventListener("input", (event) => { if (["strangers", "floor", "gallery"].includes(event.target.name)) this.schedulePreview(); });
      this.showPreview();
    } else {
      fill(this.preview, h("p", { class: "muted" }, "A new list starts empty: its threshold follows its size as members are added, and a list that cannot meet its target at its size is refused for live use."));
    }
    return this.form;
  }

  schedulePreview() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.showPreview(), PREVIEW_DELAY_MS);
  }

  // The threshold the form's target, floor and size would give, from the API; only the latest answer
  // is shown. No raised floor is asked as the smallest floor: the deployment's own floor is above it,
  // so the answer is the list's without one (an absent floor would mean "the list's current floor").
  async showPreview() {
    const seq = ++this.previewSeq;
    const v = this.form.elements;
    const strangers = Number(v.strangers.value);
    const floor = v.floor.value === "" ? 0.001 : Number(v.floor.value);
    if (!v.strangers.checkValidity() || !v.floor.checkValidity() || (v.gallery && !v.gallery.checkValidity())) {
      fill(this.preview, h("p", { class: "message error" }, `Give a whole number of strangers from ${MIN_STRANGERS} to 1,000,000,000, and a floor between 0.001 and 0.99.`));
      return;
    }
    const params = { target_fpir: 1 / strangers, threshold_floor: floor, gallery: v.gallery ? v.gallery.value : "" };
    try {
      const c = await getJson(`/watchlists/${this.w.id}/calibration${query(params)}`);
      if (seq !== this.previewSeq) return;
      fill(this.preview, h("p", { class: "calibration" }, calibrationText(c, c.stranger_tracks_per_hour)),
        c.feasible ? null : h("p", { class: "message error refusal" }, `Cannot be live: ${c.reason}`));
    } catch (error) {
      if (seq === this.previewSeq) fill(this.preview, h("p", { class: "message error" }, error.message));
    }
  }

  // The form's values in the API's terms.
  values() {
    const f = this.form;
    const v = f.elements;
    return {
      name: v.name.value.trim(),
      purpose: v.purpose.value,
      description: v.description.value.trim(),
      mode: v.mode.value,
      priority: Number(v.priority.value),
      cameras: ticked(f, "cameras"),
      districts: ticked(f, "districts"),
      requires_ack: v.requires_ack.checked,
      viewers: grantsOf(f, "viewers"),
      editors: grantsOf(f, "editors"),
      target_fpir: 1 / Number(v.strangers.value),
      threshold_floor: v.floor.value === "" ? null : Number(v.floor.value),
      status: v.archived && v.archived.checked ? "archived" : "active",
    };
  }

  // Only what differs from the list as it is (a target left alone is not "tightened" again).
  changes() {
    const w = this.w;
    const now = this.values();
    const changed = {};
    for (const [key, value] of Object.entries(now)) {
      const before = w[key];
      if (key === "target_fpir") {
        if (Math.round(1 / value) !== Math.round(1 / before)) changed[key] = value;
      } else if (Array.isArray(value)) {
        if (!sameSet(value, before)) changed[key] = value;
      } else if (value !== before) {
        changed[key] = value;
      }
    }
    if (w.all_profiles) delete changed.mode;
    return changed;
  }

  async save() {
    const reason = this.form.elements.reason.value.trim();
    try {
      if (this.w) {
        const changes = this.changes();
        if (!Object.keys(changes).length) {
          say(this.message, "Nothing changed.", "error");
          return;
        }
        say(this.message, "Saving…");
        this.onSaved(await send("PATCH", `/watchlists/${this.w.id}`, { ...changes, reason }));
      } else {
        const fields = this.values();
        delete fields.status; // a new list is active
        say(this.message, "Creating…");
        this.onSaved(await send("POST", "/watchlists", { ...fields, reason }));
      }
    } catch (error) {
      say(this.message, error.message, "error"); // the server's reason, word for word
    }
  }
}
