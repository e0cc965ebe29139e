// The face watchlist under four-eyes governance: propose an entry with its legal basis, photos (each
// photo checked as it is chosen, and the command centre's verdict on each shown beside it) and the watch
// lists it goes on, approve or reject what others proposed, and search the entries (with a reason,
// audited).
import { fill, formatTime, formValues, h, label, query, say } from "../dom.js";
import { keepReason, reasonField, table } from "../records.js";
import { getJson, loadImage, send } from "../session.js";
import { checkPhoto } from "./photo_quality.js";

const CATEGORIES = ["wanted", "missing", "hbt", "history_sheeter", "rowdy_sheeter", "local", "non_local", "watch"];
const STATUSES = ["active", "pending_add", "pending_removal", "rejected", "removed"];

function thumb(profile) {
  const img = h("img", { class: "face", alt: `photo of ${profile.name}`, width: 56, height: 56 });
  loadImage(img, profile.photo, true);
  return img;
}

export class WatchlistScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.checked = [];
  }

  mount(container) {
    const parts = [h("h2", {}, "Watchlist entries")];
    if (this.ctx.can("watchlist:propose")) parts.push(this.enrolForm());
    if (this.ctx.can("watchlist:approve")) {
      this.pending = h("div", { id: "pending" });
      parts.push(h("section", { class: "panel" }, h("h3", {}, "Waiting for a second pair of eyes"), this.pending));
    }
    parts.push(this.searchForm());
    fill(container, ...parts);
  }

  show() {
    if (this.pending) this.loadPending();
    if (this.listChoice) this.loadLists();
  }

  // The lists an entry may be put on: those the caller may see, active, curated (not the whole gallery).
  async loadLists() {
    try {
      const lists = (await getJson("/watchlists")).filter((w) => !w.all_profiles && w.status === "active");
      const ticked = new Set(this.chosenLists());
      this.byCategory = new Map(lists.filter((w) => w.auto_category).map((w) => [w.auto_category, w]));
      fill(this.listChoice, lists.map((w) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "lists", value: w.id, checked: ticked.has(w.id) }), ` ${w.name} `,
        h("span", { class: "muted" }, w.live ? "(live)" : "(search)"))));
    } catch (error) {
      fill(this.listChoice, h("span", { class: "message error" }, error.message));
    }
    this.explainLists();
  }

  chosenLists() {
    return Array.from(this.listChoice.querySelectorAll("input[name=lists]:checked"), (box) => Number(box.value));
  }

  // What an empty choice means for the category chosen.
  explainLists() {
    const category = this.enrol.elements.category.value;
    const own = this.byCategory && this.byCategory.get(category);
    this.listHint.textContent = own
      ? `None ticked: it goes on ${own.name}, the list for ${label(category)} entries.`
      : `None ticked: it goes on the list for ${label(category)} entries, if there is one.`;
  }

  enrolForm() {
    const expires = new Date(Date.now() + 180 * 86400000).toISOString().slice(0, 10);
    this.photos = h("input", { type: "file", name: "photos", accept: "image/jpeg,image/png", multiple: true, required: true, id: "enrol-photos" });
    this.quality = h("ul", { class: "quality", id: "enrol-quality" });
    this.enrolMessage = h("p", { class: "message", id: "enrol-message" });
    this.photos.addEventListener("change", () => this.checkPhotos());
    this.listChoice = h("div", { class: "checks", id: "enrol-lists" });
    this.listHint = h("p", { class: "muted", id: "enrol-lists-hint" });
    const form = h("form", { class: "enrol", id: "enrol-form" },
      h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 200 })),
      h("label", {}, "Category", h("select", { name: "category", onchange: () => this.explainLists() }, CATEGORIES.map((c) => h("option", { value: c }, label(c))))),
      h("label", {}, "Legal reference (FIR / warrant)", h("input", { name: "legal_reference", required: true, minlength: 3, maxlength: 200 })),
      h("label", {}, "Authorised by", h("input", { name: "authorised_by", required: true, minlength: 3, maxlength: 200 })),
      h("label", {}, "Legal basis lapses on", h("input", { name: "expires_at", type: "date", required: true, value: expires })),
      h("label", {}, "Photos (one face each)", this.photos),
      h("fieldset", { class: "wide" }, h("legend", {}, "Watch lists"), this.listChoice, this.listHint),
      this.quality,
      h("button", { type: "submit", id: "enrol-submit" }, "Propose"),
      this.enrolMessage);
    form.addEventListener("submit", (event) => { event.preventDefault(); this.propose(form); });
    this.enrol = form;
    return h("section", { class: "panel" }, h("h3", {}, "Propose an entry"), form);
  }

  async checkPhotos() {
    fill(this.quality, h("li", { class: "muted" }, "Checking…"));
    this.checked = await Promise.all(Array.from(this.photos.files).map(checkPhoto));
    fill(this.quality, this.checked.map((r) => h("li", { class: r.ok ? (r.warnings.length ? "warn" : "ok") : "bad", dataset: { photo: r.name } },
      r.preview ? h("img", { src: r.preview, alt: r.name, class: "face", width: 56, height: 56 }) : null,
      h("div", { class: "verdict" }, h("strong", {}, r.name), " ", h("span", { class: "said" }, r.ok ? (r.warnings.length ? "usable, with doubts" : "looks good") : "cannot be used"),
        h("div", { class: "muted" }, r.notes.join(" · ")),
        [...r.problems, ...r.warnings].map((p) => h("div", { class: "problem" }, `${r.name} ${p}`))))));
  }

  async propose(form) {
    if (this.checked.some((r) => !r.ok)) {
      say(this.enrolMessage, "Replace the photos marked as unusable first.", "error");
      return;
    }
    const values = formValues(form);
    const body = new FormData();
    for (const name of ["name", "category", "legal_reference", "authorised_by"]) body.append(name, values[name]);
    body.append("expires_at", new Date(`${values.expires_at}T23:59:59`).toISOString());
    for (const file of this.photos.files) body.append("photos", file, file.name);
    const lists = this.chosenLists();
    for (const id of lists) body.append("lists", String(id));
    const where = lists.length ? `on ${lists.length === 1 ? "1 chosen list" : `${lists.length} chosen lists`}` : "on the list for its category";
    say(this.enrolMessage, "Checking the faces…");
    try {
      const profile = await send("POST", "/watchlist/profiles", body);
      say(this.enrolMessage, `Proposed as profile ${profile.id} (${label(profile.status)}) ${where}: another supervisor must approve it before it matches.`, "info");
      form.reset();
      this.explainLists();
      fill(this.quality);
      this.checked = [];
      if (this.pending) this.loadPending();
    } catch (error) {
      // The command centre names the photo it refused and why (no face, two faces, face too small).
      say(this.enrolMessage, error.message, "error");
      for (const item of this.quality.querySelectorAll("li[data-photo]")) {
        if (error.message.includes(`'${item.dataset.photo}'`)) {
          item.className = "bad";
          item.querySelector(".said").textContent = "refused by the command centre";
          item.querySelector(".verdict").append(h("div", { class: "problem" }, error.message));
        }
      }
    }
  }

  async loadPending() {
    try {
      const page = await getJson("/watchlist/pending");
      fill(this.pending, page.profiles.length ? table([
        ["", thumb], ["Name", (p) => p.name], ["Category", (p) => label(p.category)], ["Change", (p) => label(p.status)],
        ["Legal basis", (p) => `${p.legal_reference} · ${p.authorised_by}`], ["Proposed", (p) => `${p.proposed_by.split(":").slice(2).join(":")} ${formatTime(p.proposed_at)}`],
        ["", (p) => this.decision(p)],
      ], page.profiles, { id: "pending-table" }) : h("p", { class: "muted" }, "Nothing is waiting."));
    } catch (error) {
      fill(this.pending, h("p", { class: "message error" }, error.message));
    }
  }

  decision(profile) {
    const note = h("span", { class: "message" });
    const reason = h("input", { placeholder: "Reason to reject", minlength: 5, maxlength: 500 });
    const act = async (step) => {
      try {
        const body = step === "reject" ? { reason: reason.value.trim() } : undefined;
        const after = await send("POST", `/watchlist/profiles/${profile.id}/${step}`, body);
        say(note, `now ${label(after.status)}`);
      } catch (error) {
        say(note, error.message, "error");
      }
    };
    return h("div", { class: "inline" },
      h("button", { type: "button", onclick: () => act("approve") }, "Approve"), reason,
      h("button", { type: "button", class: "danger", onclick: () => act("reject") }, "Reject"), note);
  }

  searchForm() {
    const form = h("form", { class: "filters", id: "watchlist-search" },
      h("label", {}, "Status", h("select", { name: "status" }, h("option", { value: "" }, "Any"), STATUSES.map((s) => h("option", { value: s }, label(s))))),
      h("label", {}, "Category", h("select", { name: "category" }, h("option", { value: "" }, "Any"), CATEGORIES.map((c) => h("option", { value: c }, label(c))))),
      reasonField("watchlist-reason"),
      h("button", { type: "submit" }, "Search"));
    const message = h("p", { class: "message" });
    const results = h("div", { id: "watchlist-results" });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = formValues(form);
      keepReason(values.reason);
      try {
        const page = await getJson(`/watchlist/profiles${query({ ...values, limit: 100 })}`);
        say(message, `${page.profiles.length} of ${page.total}`);
        fill(results, table([
          ["", thumb], ["Name", (p) => p.name], ["Category", (p) => label(p.category)], ["Status", (p) => label(p.status)],
          ["Matching", (p) => (p.matching ? "yes" : "no")], ["Legal basis", (p) => p.legal_reference], ["Lapses", (p) => formatTime(p.expires_at)],
        ], page.profiles));
      } catch (error) {
        say(message, error.message, "error");
      }
    });
    return h("section", { class: "panel" }, h("h3", {}, "Search the watchlist"), form, message, results);
  }
}
