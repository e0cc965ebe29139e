// The officer's notices from the records: a followed person seen, checked in or arrested (person_notice),
// news to every officer such as an arrest with its photo (bulletin), and news about the officer's own
// cases (casework). Each arrives once on the channel and is confirmed once kept here (sessionStorage, so a
// reload still shows it); the list is newest first, with an unread count on the tab.
import { fill, formatTime, h, label } from "../dom.js";

const KEY = "safecity.officer.records."; // + the account id: another officer on this phone sees none
const KEEP = 60;
export const NOTICE_TYPES = new Set(["person_notice", "bulletin", "casework"]);

const WHAT = {
  seen: "Seen by a camera",
  checkin: "Checked into a hotel",
  arrested: "Arrested",
  arrest: "Arrest",
  missing: "Missing person",
  udr: "Unidentified body",
  wanted_elsewhere: "Arrested: linked to your case",
  missing_match: "Possible match in your case",
  missing_seen: "Missing person seen",
  case_reminder: "Case reminder",
};
const CHANNEL = { person_notice: "My watchlist", bulletin: "All officers", casework: "My cases" };

function load(key) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(key) || "[]");
    return Array.isArray(kept) ? kept : [];
  } catch (error) {
    return [];
  }
}

function hasPlace(notice) {
  return typeof notice.latitude === "number" && typeof notice.longitude === "number";
}

export class NoticeList {
  constructor(me, container, badge) {
    this.key = `${KEY}${me.id}`;
    this.container = container;
    this.badge = badge;
    this.items = load(this.key); // [{type, notice, read, arrived}]
    this.list = h("div", { id: "notices" });
    this.empty = h("p", { class: "empty", id: "no-notices" }, "No notices yet. Arrests, missing persons and news about the persons you follow appear here.");
    fill(container, h("h2", {}, "Notices"), this.empty, this.list);
    this.render();
  }

  get visible() {
    return !this.container.hidden && document.visibilityState === "visible";
  }

  keep() {
    this.items.sort((a, b) => (b.notice.at || "").localeCompare(a.notice.at || "") || b.arrived - a.arrived);
    this.items = this.items.slice(0, KEEP);
    try {
      sessionStorage.setItem(this.key, JSON.stringify(this.items));
    } catch (error) {
      console.warn("notices not kept:", error);
    }
  }

  // A notice from the channel; one seen before (sent again before its confirmation arrived) is not doubled.
  add(data) {
    const notice = data.notice;
    if (!notice || this.items.some((item) => item.notice.event_id === notice.event_id)) return;
    this.items.push({ type: data.type, notice, read: false, arrived: Date.now() });
    this.keep();
    this.render();
    if (this.visible) this.seen();
    if (navigator.vibrate) navigator.vibrate(150);
  }

  // The tab is on screen: everything in it is read (still marked "new" until the next redraw).
  seen() {
    if (!this.items.some((item) => !item.read)) return;
    for (const item of this.items) item.read = true;
    this.keep();
    this.count();
  }

  count() {
    const unread = this.items.filter((item) => !item.read).length;
    this.badge.textContent = unread ? String(unread) : "";
    this.badge.hidden = unread === 0;
  }

  render() {
    fill(this.list, this.items.map((item) => this.card(item)));
    this.empty.hidden = this.items.length > 0;
    this.count();
  }

  card({ type, notice, read }) {
    const person = type === "person_notice";
    const title = person ? `${notice.person_name}: ${WHAT[notice.kind] || label(notice.kind)}` : notice.title;
    const photo = notice.photo_jpeg
      ? h("img", { class: "photo", src: `data:image/jpeg;base64,${notice.photo_jpeg}`, alt: `photo: ${person ? notice.person_name : notice.subject.name}` })
      : null;
    const where = [notice.place, notice.district].filter(Boolean).join(", ");
    const facts = [
      ["What", person ? `${WHAT[notice.kind] || label(notice.kind)} (${label(notice.category)})` : WHAT[notice.kind] || label(notice.kind)],
      ["When", formatTime(notice.at)],
      ["Where", where || null],
      ["Map", hasPlace(notice) ? this.mapLink(notice) : null],
      ["FIR", notice.fir_number ? `${notice.fir_number}${notice.police_station ? `, ${notice.police_station}` : ""}` : null],
      ["Sections", notice.sections && notice.sections.length ? notice.sections.join(", ") : null],
      ["Alert", person && notice.alert_id ? `#${notice.alert_id}${notice.camera_id ? ` on ${notice.camera_id}` : ""}` : null],
      ["Record", person ? h("a", { href: `/#/persons/${notice.person_id}`, target: "_blank", rel: "noopener", class: "person-link" }, `CRO record ${notice.person_id}`) : null],
    ].filter(([, value]) => value !== null && value !== undefined && value !== "");
    const matches = (notice.matches || []).map((m) =>
      h("li", {}, `${label(m.kind)} ${m.id}${m.name ? ` ${m.name}` : ""} (${m.how}${m.score < 1 ? ` ${Math.round(m.score * 100)}%` : ""})${m.detail ? `: ${m.detail}` : ""}`));
    return h("article", { class: `notice notice-${type}${read ? "" : " unread"}`, dataset: { type, kind: notice.kind, event: notice.event_id } },
      h("header", {}, h("h3", {}, title), h("span", { class: "badge" }, notice.kind === "case_reminder" ? "My cases" : CHANNEL[type] || type), read ? null : h("span", { class: "badge new" }, "new")),
      h("div", { class: "what" }, photo, h("p", { class: "summary" }, notice.summary)),
      notice.instruction ? h("p", { class: "message info instruction" }, notice.instruction) : null,
      h("dl", { class: "facts" }, facts.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)])),
      matches.length ? h("div", {}, h("h4", {}, "Linked cases"), h("ul", { class: "matches" }, matches)) : null);
  }

  // Coordinates, and a link that opens the phone's map app there.
  mapLink(notice) {
    const at = `${notice.latitude.toFixed(5)},${notice.longitude.toFixed(5)}`;
    return h("span", {}, h("a", { class: "map-link", href: `geo:${at}?q=${at}` }, at), " ",
      h("a", { class: "map-link-web", href: `https://www.openstreetmap.org/?mlat=${notice.latitude}&mlon=${notice.longitude}#map=17/${notice.latitude}/${notice.longitude}`, target: "_blank", rel: "noopener" }, "map"));
  }
}
