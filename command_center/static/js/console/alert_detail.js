// One alert in detail: the crop beside the enrolled photo (or hotlist entry), the scene snapshot, the
// episode's timeline (sightings and lifecycle steps), and the actions: acknowledge, dismiss as a false
// positive (with a reason), resolve, dispatch to a suggested unit. Every change any operator or officer
// makes arrives on the live feed and shows in the open alert at once.
import { fill, formatDistance, formatDuration, formatTime, h, label, say } from "../dom.js";
import { getJson, loadImage, send } from "../session.js";
import { caption, listed } from "./subject.js";

// A fusion alert: links to the face alert and the plate alert it fuses (its crop is the face's, its scene
// the plate's), how far apart in time and place.
function fused(alert) {
  const d = alert.details || {};
  if (!d.face_alert || !d.plate_alert) return null;
  const link = (part, what) => h("a", { href: `#/alerts/${part.id}`, class: "fused-link" }, `${what} alert ${part.id}`);
  return [h("dt", {}, "Fuses"), h("dd", { id: "detail-fused" }, link(d.face_alert, "face"), " + ",
    link(d.plate_alert, `vehicle ${d.plate_alert.plate || ""}`), ` (${Math.round(d.gap_s)} s, ${formatDistance(d.distance_m)} apart)`)];
}

export class AlertDetail {
  constructor(ctx) {
    this.ctx = ctx;
    this.id = null;
    this.alert = null;
  }

  mount() {
    this.panel = h("aside", { class: "detail", id: "alert-detail", hidden: true });
    this.ctx.feed.subscribe((alert, event) => {
      if (alert.id === this.id && event && this.alert) this.update(alert);
    });
    return this.panel;
  }

  close() {
    this.id = null;
    this.alert = null;
    this.panel.hidden = true;
  }

  async open(id) {
    this.id = id;
    this.alert = null;
    this.status = null;
    this.panel.hidden = false;
    fill(this.panel, h("p", { class: "muted" }, "Loading…"));
    try {
      const alert = this.ctx.feed.alerts.get(id) || (await this.ctx.feed.fetchOne(id));
      if (this.id === id) this.render(alert);
    } catch (error) {
      fill(this.panel, h("p", { class: "message error" }, error.message));
    }
  }

  // The panel for one alert, built once when it is opened; update() redraws what changes.
  async render(alert) {
    this.alert = alert;
    this.crop = h("img", { class: "evidence", alt: "what the camera saw" });
    this.scene = h("img", { class: "scene", alt: "scene snapshot" });
    this.badge = h("span", { id: "detail-status" });
    this.facts = h("dl", { class: "facts" });
    this.message = h("p", { class: "message", role: "status", id: "detail-message" });
    this.actions = h("div", { class: "actions", id: "detail-actions" });
    this.timeline = h("ol", { class: "timeline", id: "detail-timeline" });
    this.dispatches = h("div", { id: "detail-dispatches" });
    fill(this.panel,
      h("header", {},
        h("h2", {}, alert.profile_name),
        h("button", { type: "button", class: "secondary", onclick: () => { location.hash = "#/alerts"; } }, "Close")),
      h("p", {}, this.badge, " ",
        h("span", { class: `priority p${alert.priority}` }, `P${alert.priority}`), " ",
        h("span", { class: "category" }, `${label(alert.kind)} · ${label(alert.category)}`)),
      h("div", { class: "pair" },
        h("figure", {}, this.crop, h("figcaption", {}, "Seen")),
        h("figure", {}, listed(alert), h("figcaption", {}, caption(alert)))),
      this.facts, this.actions, this.message, this.dispatches,
      h("h3", {}, "Timeline"), this.timeline,
      h("h3", {}, "Scene"), this.scene);
    await this.update(alert);
  }

  // A change from the live feed (a sighting, a step by anyone): redraw the facts, the timeline and,
  // only when the status moved, the actions, so a reason being typed is not lost to a new sighting.
  async update(alert) {
    this.alert = alert;
    const camera = this.ctx.cameras.get(alert.camera_id);
    const matched = alert.details && alert.details.watch_list; // a face: the watch list it matched through
    const source = alert.details && alert.details.evidence; // images from the main stream, not the analysed one
    this.badge.className = `badge status-${alert.status}`;
    this.badge.textContent = label(alert.status);
    loadImage(this.crop, `${alert.evidence.crop}?v=${encodeURIComponent(alert.updated_at)}`);
    loadImage(this.scene, `${alert.evidence.scene}?v=${encodeURIComponent(alert.updated_at)}`);
    fill(this.facts,
      h("dt", {}, "Similarity"), h("dd", {}, alert.best_similarity.toFixed(3)),
      matched ? [h("dt", {}, "Watch list"), h("dd", { id: "detail-watch-list" }, matched.name || `list ${matched.id}`)] : null,
      fused(alert),
      h("dt", {}, "Camera"), h("dd", {}, camera ? `${camera.name} (${alert.camera_id})` : alert.camera_id),
      h("dt", {}, "District"), h("dd", {}, alert.district || "—"),
      source ? [h("dt", {}, "Images"), h("dd", { id: "detail-evidence" },
        `main stream ${source.width}×${source.height}, ${Math.round(source.offset_ms)} ms from the analysed frame`)] : null,
      h("dt", {}, "First seen"), h("dd", {}, formatTime(alert.first_seen)),
      h("dt", {}, "Last seen"), h("dd", {}, formatTime(alert.last_seen)),
      h("dt", {}, "Sightings"), h("dd", {}, String(alert.hit_count)));
    await this.loadLifecycle(alert);
  }

  async loadLifecycle(alert) {
    try {
      const [life, hits] = await Promise.all([
        getJson(`/alerts/${alert.id}/lifecycle`),
        getJson(`/alerts/${alert.id}/hits?limit=200`),
      ]);
      if (this.alert !== alert) return; // a newer update took over
      if (life.status !== this.status) {
        this.status = life.status;
        this.renderActions(life);
      }
      this.renderTimeline(life, hits);
      this.renderDispatches(life.dispatches);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  // The actions for the alert's status. Redrawn when someone else moves the alert, they keep what this
  // operator was doing: the dismissal reason typed so far, the nearest units and the note for the unit
  // (the same elements, moved, while dispatch is still possible), and the focus with its caret.
  renderActions(life) {
    const can = (p) => this.ctx.can(p);
    const next = new Set(life.allowed_next);
    const typed = this.actions.querySelector("#dismiss-reason");
    const focused = this.actions.contains(document.activeElement) ? document.activeElement : null;
    const caret = focused && "selectionStart" in focused ? [focused.selectionStart, focused.selectionEnd] : null;
    let suggestions = this.actions.querySelector("#suggestions") || h("div", { id: "suggestions" });
    if (!(can("dispatch") && next.has("dispatched")) && suggestions.childElementCount) {
      suggestions = h("div", { id: "suggestions" }, h("p", { class: "muted" }, `Now ${label(life.status)}: no unit can be sent.`));
    }
    const buttons = [];
    if (can("alerts:act") && next.has("acknowledged")) {
      buttons.push(h("button", { type: "button", id: "act-acknowledge", onclick: () => this.act("acknowledge") }, "Acknowledge"));
    }
    if (can("dispatch") && next.has("dispatched")) {
      buttons.push(h("button", { type: "button", id: "act-suggest", onclick: () => this.suggest() }, "Dispatch…"));
    }
    if (can("alerts:act") && next.has("resolved")) {
      buttons.push(h("button", { type: "button", id: "act-resolve", onclick: () => this.act("resolve") }, "Resolve (confirmed)"));
    }
    if (can("alerts:act") && next.has("dismissed")) {
      const reason = typed || h("input", { id: "dismiss-reason", placeholder: "Why is this a false positive?", minlength: 5, maxlength: 500, required: true });
      buttons.push(h("form", { class: "inline", id: "dismiss-form", onsubmit: (e) => { e.preventDefault(); this.act("dismiss", { reason: reason.value.trim() }); } },
        reason, h("button", { type: "submit", class: "danger", id: "act-dismiss" }, "Dismiss as false positive")));
    }
    if (!buttons.length) buttons.push(h("p", { class: "muted" }, next.size ? "Your role cannot act on this alert." : "Closed."));
    fill(this.actions, buttons, suggestions);
    if (focused && this.actions.contains(focused)) {
      focused.focus();
      if (caret) focused.setSelectionRange(...caret);
    }
  }

  async act(action, body) {
    try {
      const step = await send("POST", `/alerts/${this.alert.id}/${action}`, body);
      this.ctx.feed.put(step.alert, { kind: "updated", change: step.transition });
      say(this.message, `${label(step.transition.action)}: now ${label(step.alert.status)}`, "info");
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async suggest() {
    const box = this.panel.querySelector("#suggestions");
    fill(box, h("p", { class: "muted" }, "Finding the nearest units…"));
    try {
      const found = await getJson(`/alerts/${this.alert.id}/dispatch/suggestions`);
      const note = h("input", { id: "dispatch-note", placeholder: "Note for the unit (optional)", maxlength: 500 });
      const rows = found.units.map((s) => h("tr", { dataset: { unit: s.unit.id } },
        h("td", {}, h("strong", {}, s.unit.id), h("div", { class: "muted" }, s.unit.name)),
        h("td", {}, s.unit.officers.map((o) => o.name).join(", ") || "—"),
        h("td", {}, formatDistance(s.distance_m)),
        h("td", {}, formatDuration(s.eta_s)),
        h("td", {}, h("button", { type: "button", class: "send-unit", onclick: () => this.dispatch(s.unit.id, note.value.trim()) }, "Send"))));
      fill(box, found.units.length
        ? [h("table", { class: "suggestions" }, h("thead", {}, h("tr", {}, ["Unit", "Crew", "Distance", "ETA", ""].map((t) => h("th", {}, t)))), h("tbody", {}, rows)), note]
        : h("p", { class: "muted" }, `No available unit within ${formatDistance(found.radius_m)}.`));
    } catch (error) {
      fill(box, h("p", { class: "message error" }, error.message));
    }
  }

  async dispatch(unitId, note) {
    try {
      const step = await send("POST", `/alerts/${this.alert.id}/dispatch`, { unit_id: unitId, note: note || null });
      this.ctx.feed.put(step.alert, { kind: "updated", change: step.transition });
      say(this.message, `Unit ${unitId} dispatched`, "info");
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  renderTimeline(life, hits) {
    const events = [
      ...hits.map((hit) => ({ at: hit.captured_at, kind: "sighting", text: `Seen, similarity ${hit.similarity.toFixed(2)}${hit.track_id !== null ? ` (track ${hit.track_id})` : ""}` })),
      ...life.transitions.map((t) => ({
        at: t.at, kind: "step",
        text: `${label(t.action)} → ${label(t.to_status)} by ${t.actor.split(":").slice(2).join(":") || t.actor}${t.unit_id ? ` · unit ${t.unit_id}` : ""}${t.reason ? ` · “${t.reason}”` : ""}`,
      })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    fill(this.timeline, events.map((e) => h("li", { class: e.kind }, h("time", { datetime: e.at }, formatTime(e.at)), " ", e.text)));
  }

  renderDispatches(dispatches) {
    if (!dispatches.length) {
      fill(this.dispatches);
      return;
    }
    fill(this.dispatches, h("h3", {}, "Dispatches"), h("ul", { class: "dispatches" }, dispatches.map((d) =>
      h("li", { dataset: { dispatch: d.id } }, `${d.unit_id}: `, h("span", { class: `badge dispatch-${d.status}` }, label(d.status)),
        ` · ${formatTime(d.created_at)}${d.distance_m ? ` · ${formatDistance(d.distance_m)}` : ""}`))));
  }
}
