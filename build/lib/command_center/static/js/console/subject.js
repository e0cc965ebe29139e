import { h, label } from "../dom.js";
import { loadImage } from "../session.js";

// What the sighting is matched against: the enrolled photo, or the hotlist entry of a plate.
export function listed(alert) {
  if (alert.kind === "face" && alert.profile_photo) {
    const photo = h("img", { class: "face", alt: "enrolled photo", width: 72, height: 72 });
    loadImage(photo, alert.profile_photo, true);
    return photo;
  }
  const d = alert.details || {};
  if (alert.kind === "plate") {
    return h("div", { class: "hotlist" },
      h("div", { class: "plate" }, d.plate || alert.profile_name),
      h("div", {}, label(d.status)),
      d.reason ? h("div", { class: "muted" }, d.reason) : null,
      d.case_reference ? h("div", { class: "muted" }, d.case_reference) : null,
      d.read_display ? h("div", { class: "muted" }, `read: ${d.read_display} (${label(d.match_kind)})`) : null);
  }
  return h("div", { class: "hotlist" }, h("div", {}, label(alert.kind)), h("div", { class: "muted" }, alert.category));
}
