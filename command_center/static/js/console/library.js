// The resource library: Acts, judgments, circulars, manuals and SOPs. Every officer searches it; records
// staff and supervisors add documents and pin those officers keep on their phones to read offline.
import { download, fill, formValues, h, label, query, say } from "../dom.js";
import { table } from "../records.js";
import { getFile, getJson, send } from "../session.js";

const CATEGORIES = ["act", "judgment", "circular", "manual", "sop", "other"];

function categorySelect(name, blank) {
  return h("select", { name }, blank ? h("option", { value: "" }, blank) : null,
    CATEGORIES.map((c) => h("option", { value: c }, c === "sop" ? "SOP" : label(c))));
}

// A search snippet with the words found (in [brackets]) marked.
function snippet(text) {
  if (!text) return "";
  return h("span", { class: "snippet" }, text.split(/(\[[^\]]*\])/).map((part) =>
    part.startsWith("[") && part.endsWith("]") ? h("mark", {}, part.slice(1, -1)) : part));
}

export class LibraryScreen {
  constructor(ctx) {
    this.manage = ctx.can("library:manage");
  }

  mount(container) {
    this.search = h("form", { class: "filters", id: "library-search" },
      h("label", {}, "Words", h("input", { name: "q", minlength: 2, maxlength: 200, placeholder: "harbouring proscribed person" })),
      h("label", {}, "Category", categorySelect("category", "All")),
      h("button", { type: "submit" }, "Search"),
      h("button", { type: "button", class: "secondary", onclick: () => this.list() }, "All documents"));
    this.search.addEventListener("submit", (event) => { event.preventDefault(); this.find(); });
    this.message = h("p", { class: "message", id: "library-message" });
    this.results = h("div", { id: "library-results" });
    const parts = [h("h2", {}, "Resource library"), this.search, this.message, this.results];
    if (this.manage) parts.push(this.uploadForm());
    fill(container, ...parts);
    this.list();
  }

  uploadForm() {
    this.upload = h("form", { class: "filters", id: "library-upload" },
      h("label", {}, "Title", h("input", { name: "title", required: true, minlength: 3, maxlength: 300 })),
      h("label", {}, "Category", categorySelect("category")),
      h("label", {}, "Issued on", h("input", { name: "issued_on", type: "date" })),
      h("label", {}, "File (PDF, text, Markdown)", h("input", { name: "file", type: "file", required: true, accept: ".pdf,.txt,.md,application/pdf,text/plain,text/markdown" })),
      h("label", { class: "check" }, h("input", { name: "pinned", type: "checkbox", value: "true" }), "Pin for offline reading"),
      h("button", { type: "submit" }, "Add to the library"));
    this.upload.addEventListener("submit", (event) => { event.preventDefault(); this.add(); });
    this.added = h("p", { class: "message", id: "library-added" });
    return h("section", { class: "panel" }, h("h3", {}, "Add a document"), this.upload, this.added);
  }

  columns() {
    const columns = [
      ["Title", (d) => h("button", { type: "button", class: "link", onclick: () => this.open(d) }, d.title)],
      ["Category", (d) => (d.category === "sop" ? "SOP" : label(d.category))],
      ["Issued", (d) => d.issued_on || "—"],
      ["Offline", (d) => (d.pinned ? "pinned" : "")],
      ["Found", (d) => snippet(d.snippet)],
    ];
    if (this.manage) {
      columns.push(["", (d) => h("button", { type: "button", class: "secondary", onclick: () => this.pin(d) }, d.pinned ? "Unpin" : "Pin")]);
    }
    return columns;
  }

  show(rows, said) {
    say(this.message, said);
    fill(this.results, table(this.columns(), rows, { id: "library-table" }));
  }

  async list() {
    try {
      const page = await getJson("/library?limit=200");
      this.show(page.documents, `${page.documents.length} of ${page.total} documents`);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async find() {
    const v = formValues(this.search);
    try {
      const found = await getJson(`/library/search${query({ q: v.q, category: v.category })}`);
      this.show(found, found.length ? `${found.length} found` : "Nothing found: try fewer or other words");
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async add() {
    const data = new FormData(this.upload);
    if (!data.get("issued_on")) data.delete("issued_on");
    if (!data.get("pinned")) data.set("pinned", "false");
    try {
      const doc = await send("POST", "/library", data);
      say(this.added, `Added: ${doc.title}`);
      this.upload.reset();
      this.list();
    } catch (error) {
      say(this.added, error.message, "error");
    }
  }

  async pin(doc) {
    try {
      await send("PATCH", `/library/${doc.id}`, { pinned: !doc.pinned });
      this.list();
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async open(doc) {
    try {
      const file = await getFile(doc.file);
      download(file.blob, doc.filename);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }
}
