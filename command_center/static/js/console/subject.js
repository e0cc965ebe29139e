import { h } from "../dom.js";
import { loadImage } from "../session.js";

// What the sighting was matched against, as its kind describes it (alert.listed, made by the kind's module in
// command_center/alerts/kinds): the enrolled photo, the hotlist entry of a plate, the criminal record.
export function listed(alert) {
  const l = alert.listed || { caption: alert.kind, lines: [alert.category] };
  if (l.photo) {
    const photo = h("img", { class: "face", alt: `${l.caption.toLowerCase()} photo`, width: 72, height: 72 });
    loadImage(photo, l.photo, true);
    return photo;
  }
  return h("div", { class: "hotlist" },
    l.headline ? h("div", { class: "plate" }, l.headline) : null,
    ...(l.lines || []).map((line, i) => h("div", i ? { class: "muted" } : {}, line)));
}

export function caption(alert) {
  return (alert.listed && alert.listed.caption) || "Matched";
}
