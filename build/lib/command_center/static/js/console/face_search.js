// Photo search for investigators: a photo of the person sought and the stated reason (audited with what
// was returned), optionally only some of the watch lists the caller may see, and the ranked candidates
// as cards. Nothing is raised or sent: a person judges every candidate.
import { fill, formValues, h, label, readAsDataUrl } from "../dom.js";
import { INVESTIGATIVE, showSearch } from "../faces.js";
import { keepReason, reasonField } from "../records.js";
import { getJson } from "../session.js";

const MAX_CANDIDATES = 50;

export class FaceSearchScreen {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(container) {
    this.photo = h("input", { type: "file", name: "photo", accept: "image/jpeg,image/png", required: true, id: "face-photo" });
    this.preview = h("img", { class: "face probe", alt: "the photo searched", width: 120, height: 120, hidden: true, id: "face-preview" });
    this.photo.addEventListener("change", () => this.showProbe());
    this.lists = h("fieldset", { class: "checks", id: "face-lists" }, h("legend", {}, "Lists"), h("p", { class: "muted" }, "Loading…"));
    this.form = h("form", { class: "filters", id: "face-search-form" },
      h("label", {}, "Photo of the person sought", this.photo),
      reasonField("face-reason"),
      h("label", {}, "Candidates", h("input", { name: "top_k", type: "number", min: 1, max: MAX_CANDIDATES, value: 20, id: "face-top-k" })),
      h("button", { type: "submit" }, "Search"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.search(); });
    this.message = h("p", { class: "message", id: "face-message", role: "status" });
    this.results = h("div", { class: "face-results", id: "face-candidates" });
    fill(container, h("h2", {}, "Photo search"),
      h("p", { class: "investigative", id: "face-investigative" }, INVESTIGATIVE),
      h("div", { class: "probe-row" }, this.form, this.preview), this.lists, this.message, this.results);
  }

  show() {
    this.loadLists();
  }

  chosen() {
    return Array.from(this.lists.querySelectorAll("input[name=lists]:checked"), (box) => Number(box.value));
  }

  // The lists the caller may see (read again on every visit: lists come and go), none ticked: a search
  // of all of them unless some are chosen.
  async loadLists() {
    if (!this.ctx.can("watchlist:read")) {
      fill(this.lists, h("legend", {}, "Lists"), h("p", { class: "muted" }, "Every list you may see is searched."));
      return;
    }
    try {
      const lists = await getJson("/watchlists");
      const ticked = new Set(this.chosen());
      fill(this.lists, h("legend", {}, "Lists (none ticked: every list you may see)"),
        lists.map((w) => h("label", { class: "check" },
          h("input", { type: "checkbox", name: "lists", value: w.id, checked: ticked.has(w.id) }), ` ${w.name} `,
          h("span", { class: "muted" }, `${w.live ? "live" : "search"} · ${label(w.purpose)}`))));
    } catch (error) {
      fill(this.lists, h("legend", {}, "Lists"), h("p", { class: "message error" }, error.message));
    }
  }

  async showProbe() {
    const [file] = this.photo.files;
    this.preview.hidden = !file;
    if (file) this.preview.src = await readAsDataUrl(file);
  }

  async search() {
    const [file] = this.photo.files;
    const values = formValues(this.form);
    keepReason(values.reason);
    await showSearch(file, values.reason, { lists: this.chosen(), topK: Number(values.top_k) || null }, this.message, this.results);
  }
}
