// A CRO person's dossier: what the records and the cameras hold about them, each with its time, as one
// timeline (newest first) and a small map of the events whose place is known (cameras, hotels, arrests).
// Opened from the person screen (#/persons/<id>/dossier); like every person view it states a reason and
// is audited.
import { counted, fill, formatTime, h, label, query } from "../dom.js";
import { table } from "../records.js";
import { getJson } from "../session.js";
import { baseMap, escapeHtml } from "./map.js";

const COLOURS = { face: "#f85149", plate: "#d29922", fusion: "#ff7b72", checkin: "#a371f7", hotel: "#a371f7", arrest: "#58a6ff" };
const SCREENS = [/^\/alerts\/\d+$/, /^\/persons\/\d+$/]; // API paths the console has a screen for

function linkTo(event) {
  const path = event.link.split("?")[0];
  return SCREENS.some((r) => r.test(path)) ? h("a", { href: `#${path}` }, "open") : h("span", { class: "muted" }, path);
}

export async function renderDossier(container, id, reason) {
  fill(container, h("p", { class: "muted" }, "Loading dossier…"));
  const dossier = await getJson(`/persons/${id}/dossier${query({ reason })}`);
  const { alerts } = dossier;
  const counts = [
    counted(alerts.face.length, "face sighting"), counted(alerts.plate.length, "vehicle read"),
    counted(alerts.fusion.length, "face + vehicle alert"), counted(dossier.checkins.length, "hotel check-in"),
    counted(dossier.arrests.length, "arrest"), counted(dossier.missing.length, "missing report"),
  ].join(" · ");
  const box = h("div", { class: "map dossier-map", id: "dossier-map" });
  const followers = dossier.followers.map((f) => `${f.name || `officer ${f.officer_id}`} (since ${formatTime(f.since)})`);
  fill(container, h("section", { class: "dossier", id: "dossier" },
    h("header", {}, h("h3", {}, `Dossier: ${dossier.person.name}`), h("span", { class: "badge" }, label(dossier.person.category))),
    h("p", { class: "muted", id: "dossier-counts" }, counts),
    box,
    h("h4", {}, "Timeline"),
    dossier.timeline.length ? table([
      ["When", (e) => formatTime(e.at)],
      ["What", (e) => h("span", { class: `badge kind-${e.kind}` }, label(e.kind))],
      ["", (e) => e.summary],
      ["Where", (e) => e.place || ""],
      ["", linkTo],
    ], dossier.timeline, { id: "dossier-timeline" }) : h("p", { class: "muted" }, "Nothing recorded."),
    h("h4", {}, "Followed by"),
    h("p", { id: "dossier-followers" }, followers.length ? followers.join(", ") : "No one.")));
  await drawEvents(box, dossier.timeline);
}

async function drawEvents(box, events) {
  const L = window.L;
  const map = await baseMap(box);
  const placed = events.filter((e) => e.latitude !== null && e.longitude !== null);
  const points = placed.map((e) => {
    const colour = COLOURS[e.kind] || "#8b949e";
    L.circleMarker([e.latitude, e.longitude], { radius: e.kind === "fusion" ? 11 : 7, color: colour, weight: 2, fillOpacity: 0.5, className: `dossier-marker kind-${e.kind}` })
      .bindTooltip(`${escapeHtml(formatTime(e.at))} · ${escapeHtml(e.summary)}`)
      .addTo(map);
    return [e.latitude, e.longitude];
  });
  if (points.length) map.fitBounds(points, { padding: [30, 30], maxZoom: 15 });
  box.dataset.markers = String(points.length);
}
