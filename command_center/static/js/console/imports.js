// Bulk import of CRO persons: records staff upload a CSV or JSON-lines file (and a zip of the photos it
// names); a command-centre replica imports it in the background, batch by batch. This screen starts an
// import, shows every job's progress bar as its batches commit (pushed over /ws/imports, read again
// from the API when the link comes back), cancels a job, and downloads the rows left out with reasons.
import { counted, download, fill, formatCount, formatTime, h, label, say } from "../dom.js";
import { table } from "../records.js";
import { getFile, getJson, openSocket, refresh, send } from "../session.js";
import { attempt, heading, twoStep } from "./admin_kit.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;
const ACTIVE = new Set(["queued", "running"]);

function percent(job) {
  return job.total ? Math.floor((100 * job.done) / job.total) : 0;
}

function bar(job) {
  const value = percent(job);
  return h("div", { class: "import-progress" },
    h("progress", { max: 100, value, id: `import-bar-${job.id}`, "aria-label": `import ${job.id} progress` }),
    h("span", { class: "import-count", id: `import-count-${job.id}` },
      `${job.done} / ${job.total} rows (${value} %)`));
}

function outcome(job) {
  const parts = [`${formatCount(job.imported)} imported`];
  if (job.failed) parts.push(`${formatCount(job.failed)} left out`);
  if (job.enrolled) parts.push(`${job.enrolled} on the watchlist`);
  return parts.join(", ");
}

export class ImportsScreen {
  constructor() {
    this.jobs = new Map(); // id -> job as GET /imports/{id} answers
    this.socket = null;
  }

  mount(container) {
    this.form = h("form", { class: "filters", id: "import-form" },
      h("label", {}, "Persons file (CSV or JSON lines)",
        h("input", { name: "file", type: "file", required: true, accept: ".csv,.jsonl,.ndjson,text/csv" })),
      h("label", {}, "Photos (zip, optional)", h("input", { name: "photos", type: "file", accept: ".zip,application/zip" })),
      h("label", { class: "check" }, h("input", { name: "enrol_watchlist", type: "checkbox", value: "true", checked: true }),
        "Enrol photos on the camera watchlist"),
      h("label", {}, "Legal basis (rows without a case)", h("input", { name: "legal_reference", maxlength: 200, placeholder: "CRO records import, SSP Lahore order 14/2026" })),
      h("button", { type: "submit", id: "import-start" }, "Start import"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.start(); });
    this.message = h("p", { class: "message", id: "imports-message" });
    this.list = h("div", { id: "imports-list" });
    fill(container,
      heading("Bulk import", "imports", () => this.load()),
      h("section", { class: "panel" }, h("h3", {}, "Import CRO persons"), this.form,
        h("p", { class: "hint" }, "Columns: name, category (required); father_name, cnic, gender, district, address, date_of_birth, aliases, notes, photo, cases, vehicles. Bad rows are left out and listed with the reason.")),
      this.message, this.list);
    this.load();
    this.connect(RECONNECT_MIN_MS);
  }

  async load() {
    const page = await attempt(this.message, () => getJson("/imports?limit=50"), (p) => `${counted(p.total, "import job")}`);
    if (!page) return;
    this.jobs = new Map(page.jobs.map((job) => [job.id, job]));
    this.render();
  }

  async start() {
    const data = new FormData(this.form);
    if (!data.get("photos") || !data.get("photos").size) data.delete("photos");
    if (!data.get("legal_reference")) data.delete("legal_reference");
    data.set("enrol_watchlist", data.get("enrol_watchlist") ? "true" : "false");
    const job = await attempt(this.message, () => send("POST", "/imports", data),
      (j) => `Import ${j.id} queued: ${j.total} rows of ${j.file_name}`);
    if (!job) return;
    this.form.reset();
    this.jobs.set(job.id, job);
    this.render();
  }

  // A progress message: the job's counts as they stand after a batch; the full job is read at its end.
  progress(update) {
    const known = this.jobs.get(update.job_id);
    const job = { ...(known || { id: update.job_id, file_name: "", started_by: "", created_at: null }), ...update };
    job.id = update.job_id;
    this.jobs.set(job.id, job);
    if (!known || !ACTIVE.has(update.state)) {
      getJson(`/imports/${job.id}`).then((full) => { this.jobs.set(full.id, full); this.render(); }, () => {});
    }
    this.render();
  }

  render() {
    const jobs = Array.from(this.jobs.values()).sort((a, b) => b.id - a.id);
    const columns = [
      ["Job", (j) => `#${j.id}`],
      ["File", (j) => j.file_name + (j.has_photos ? " + photos" : "")],
      ["State", (j) => h("span", { class: `state state-${j.state}`, id: `import-state-${j.id}` }, label(j.state))],
      ["Progress", (j) => bar(j)],
      ["Outcome", (j) => outcome(j)],
      ["Started", (j) => (j.created_at ? `${formatTime(j.created_at)} by ${j.started_by.split(":").slice(2).join(":")}` : "")],
      ["", (j) => this.actions(j)],
    ];
    fill(this.list, jobs.length ? table(columns, jobs, { id: "imports-table" }) : h("p", {}, "No imports yet."));
  }

  actions(job) {
    const buttons = [];
    if (ACTIVE.has(job.state) && !job.cancel_requested) {
      buttons.push(twoStep("Cancel", "Really cancel?", () => this.cancel(job), { id: `import-cancel-${job.id}` }));
    }
    if (job.failed || job.noted) {
      buttons.push(h("button", { type: "button", class: "secondary", id: `import-errors-${job.id}`, onclick: () => this.errors(job) }, "Error report"));
    }
    if (job.message) buttons.push(h("span", { class: "hint" }, job.message));
    return h("span", { class: "actions" }, buttons);
  }

  async cancel(job) {
    const answer = await attempt(this.message, () => send("POST", `/imports/${job.id}/cancel`),
      `Import ${job.id}: stopping after the batch under way`);
    if (answer) { this.jobs.set(answer.id, answer); this.render(); }
  }

  async errors(job) {
    try {
      const file = await getFile(`/imports/${job.id}/errors`);
      download(file.blob, `${job.file_name.replace(/\.[^.]*$/, "")}.errors.csv`);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  connect(delay) {
    const ws = openSocket("/ws/imports");
    this.socket = ws;
    ws.addEventListener("open", () => { delay = RECONNECT_MIN_MS; this.load(); });
    ws.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "import_progress") this.progress(event.job);
    });
    ws.addEventListener("close", (event) => {
      if (this.socket !== ws || event.code === 4403) return;
      const renewed = event.code === 4401 ? refresh() : Promise.resolve();
      renewed.then(() => setTimeout(() => this.socket === ws && this.connect(Math.min(delay * 2, RECONNECT_MAX_MS)), delay), () => {});
    });
  }
}
