// The hotel check-in log: who checked in where, with the screening against the records. Reading it
// states a reason (audited); so does each guest photo opened.
import { fill, formatTime, formValues, h, localToIso, query, say } from "../dom.js";
import { keepReason, lastReason, reasonField, table } from "../records.js";
import { getJson, loadImage } from "../session.js";

const PAGE = 100;

function screening(c) {
  if (!c.screened_at || !c.screening) return "not screened yet";
  const subjects = c.screening.subjects || [];
  if (!subjects.length) return "clear";
  const alerts = (c.screening.alerts || []).map((id) => h("a", { href: `#/alerts/${id}` }, `alert ${id}`));
  return h("span", { class: "hit" }, subjects.map((s) => `${s.kind} ${s.id} (${s.match}, ${Math.round(s.score * 100)} %)`).join("; "), " ", alerts);
}

export class CheckinsScreen {
  mount(container) {
    this.form = h("form", { class: "filters", id: "checkin-form" },
      h("label", {}, "CNIC", h("input", { name: "cnic", maxlength: 15, placeholder: "#####-#######-#" })),
      h("label", {}, "Hotel id", h("input", { name: "hotel_id", inputmode: "numeric", pattern: "[0-9]{0,10}" })),
      h("label", {}, "From", h("input", { name: "since", type: "datetime-local" })),
      h("label", {}, "Until", h("input", { name: "until", type: "datetime-local" })),
      reasonField("checkin-reason"),
      h("button", { type: "submit" }, "Show"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.load(0); });
    this.message = h("p", { class: "message", id: "checkin-message" });
    this.results = h("div", { id: "checkin-results" });
    fill(container, h("h2", {}, "Hotel check-in log"), this.form, this.message, this.results);
  }

  async load(offset) {
    const v = formValues(this.form);
    keepReason(v.reason);
    const params = { cnic: v.cnic, hotel_id: v.hotel_id, since: localToIso(v.since), until: localToIso(v.until), reason: v.reason, limit: PAGE, offset };
    say(this.message, "Loading…");
    try {
      const page = await getJson(`/checkins${query(params)}`);
      say(this.message, `${page.checkins.length} of ${page.total} shown`);
      const more = offset + PAGE < page.total ? h("button", { type: "button", class: "secondary", onclick: () => this.load(offset + PAGE) }, "Next page") : null;
      fill(this.results, table([
        ["Guest", (c) => c.guest_name], ["CNIC", (c) => c.cnic], ["Phone", (c) => c.phone || ""],
        ["Hotel", (c) => String(c.hotel_id)], ["Room", (c) => c.room], ["Guests", (c) => String(c.guests)],
        ["Checked in", (c) => formatTime(c.checked_in_at)], ["Checked out", (c) => formatTime(c.checked_out_at)],
        ["Screening", screening],
        ["Photo", (c) => (c.photo ? h("button", { type: "button", class: "secondary", onclick: (e) => this.photo(e.target, c) }, "Show") : "")],
      ], page.checkins, { id: "checkin-table" }), more);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  photo(button, checkin) {
    const img = h("img", { class: "photo", alt: `photo of ${checkin.guest_name}` });
    loadImage(img, `${checkin.photo}${query({ reason: lastReason() })}`);
    button.replaceWith(img);
  }
}
