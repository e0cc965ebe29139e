// Graphs and statistics (M-CCTNS): alerts by hour, day, camera, type, category and district with the
// false-positive rate of each, and crime reports by type and area. Every table exports as CSV: the
// alert tables as the API writes them, the crime tables from what is shown.
import { bars, columns } from "../charts.js";
import { download, fill, formValues, h, label, query, say, timeZone, toCsv } from "../dom.js";
import { ApiError, call, getFile, getJson } from "../session.js";

const REPORTS = [
  ["hour", "Alerts by hour of the day", "columns"],
  ["day", "Alerts by day", "columns"],
  ["camera", "Alerts and false positives by camera", "bars"],
  ["kind", "Alerts by type", "bars"],
  ["category", "Alerts and false positives by category", "bars"],
  ["district", "Alerts by district", "bars"],
];

function dateInput(name, date) {
  return h("input", { type: "date", name, value: date.toISOString().slice(0, 10), required: true });
}

function rate(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

export class StatsScreen {
  constructor(ctx) {
    this.ctx = ctx;
  }

  mount(container) {
    const today = new Date();
    const weekAgo = new Date(Date.now() - 6 * 86400000);
    this.zone = timeZone;
    this.form = h("form", { class: "filters", id: "stats-form" },
      h("label", {}, "From", dateInput("from", weekAgo)),
      h("label", {}, "To (inclusive)", dateInput("to", today)),
      h("span", { class: "muted" }, `Times in ${this.zone}`),
      h("button", { type: "submit" }, "Show"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.load(); });
    this.message = h("p", { class: "message", id: "stats-message" });
    this.panels = h("div", { class: "panels" });
    fill(container, h("h2", {}, "Statistics"), this.form, this.message, this.panels);
    this.loaded = false;
  }

  show() {
    if (!this.loaded) this.load();
  }

  period() {
    const values = formValues(this.form);
    const since = new Date(`${values.from}T00:00:00`);
    const until = new Date(`${values.to}T00:00:00`);
    until.setDate(until.getDate() + 1);
    return { since: since.toISOString(), until: until.toISOString(), tz: this.zone };
  }

  async load() {
    this.loaded = true;
    say(this.message, "");
    const period = this.period();
    const panels = REPORTS.map(([group, title, kind]) => this.alertPanel(group, title, kind, period));
    fill(this.panels, ...panels, this.crimePanels(period));
  }

  alertPanel(group, title, kind, period) {
    const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    const path = `/stats/alerts${query({ group_by: group, ...period })}`;
    const exportCsv = h("button", { type: "button", class: "secondary csv", dataset: { report: group }, onclick: () => this.exportAlerts(path) }, "CSV");
    getJson(path).then((report) => {
      const rows = report.groups.map((g) => ({ label: g.label, tick: group === "day" ? g.key.slice(5) : g.key, value: g.total, extra: g.false_positive }));
      const chart = kind === "columns" ? columns(rows, { title, barWidth: group === "day" ? 34 : 18 }) : bars(rows.slice(0, 20), { title });
      fill(body, report.groups.length ? chart : h("p", { class: "muted" }, "No alerts in this period."), this.alertTable(report));
    }).catch((error) => fill(body, h("p", { class: "message error" }, error.message)));
    return h("section", { class: "panel", id: `stats-${group}` }, h("header", {}, h("h3", {}, title), exportCsv), body);
  }

  alertTable(report) {
    const rows = report.group_by === "hour" || report.group_by === "day" ? report.groups.filter((g) => g.total) : report.groups;
    return h("table", { class: "data" },
      h("thead", {}, h("tr", {}, ["", "Alerts", "Confirmed", "False positive", "Open", "False-positive rate"].map((t) => h("th", {}, t)))),
      h("tbody", {}, [...rows, report.total].map((g) => h("tr", {},
        h("td", {}, g.label), h("td", {}, g.total), h("td", {}, g.confirmed), h("td", {}, g.false_positive),
        h("td", {}, g.open), h("td", {}, rate(g.false_positive_rate))))));
  }

  async exportAlerts(path) {
    try {
      const file = await getFile(`${path}&format=csv`);
      download(file.blob, file.name);
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  // Crime reports by type and by area (the hotspot grid cells), from the crime-reports API.
  crimePanels(period) {
    const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    const section = h("section", { class: "panel", id: "stats-crimes" }, h("header", {}, h("h3", {}, "Crime reports by type and area")), body);
    const path = `/crimes/hotspots${query({ since: period.since, until: period.until, cell_m: 1000 })}`;
    call(path).then(async (response) => {
      if (response.status === 404 || response.status === 405) {
        fill(body, h("p", { class: "muted", id: "crimes-unavailable" }, "Crime statistics are not available on this command centre."));
        return;
      }
      if (!response.ok) throw new ApiError(response.status, (await response.json().catch(() => ({}))).detail || `HTTP ${response.status}`, path);
      this.renderCrimes(body, section.querySelector("header"), await response.json());
      if (body.querySelector("table")) body.append(await this.crimesByStation(period));
    }).catch((error) => fill(body, h("p", { class: "message error" }, error.message)));
    return section;
  }

  // Reports per police station, with the types within each, from GET /crimes/stats (CSV from the server).
  async crimesByStation(period) {
    const params = { since: period.since, until: period.until, group_by: "police_station" };
    const found = await getJson(`/crimes/stats${query(params)}`);
    const csv = h("button", {
      type: "button", class: "secondary csv", dataset: { report: "crimes-by-station" },
      onclick: async () => {
        const file = await getFile(`/crimes/stats${query({ ...params, format: "csv" })}`);
        download(file.blob, file.name);
      },
    }, "CSV");
    return h("div", { id: "stats-crimes-stations" },
      h("h4", {}, "By police station ", csv),
      h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["Police station", "Reports", "Types"].map((t) => h("th", {}, t)))),
        h("tbody", {}, found.groups.slice(0, 30).map((g) => h("tr", {}, h("td", {}, g.key || "(not recorded)"), h("td", {}, g.count),
          h("td", {}, Object.entries(g.by_type || {}).map(([t, n]) => `${label(t)} ${n}`).join(", ")))))));
  }

  renderCrimes(body, header, found) {
    const byType = new Map();
    for (const cell of found.cells) {
      for (const [type, n] of Object.entries(cell.by_type || {})) byType.set(type, (byType.get(type) || 0) + n);
    }
    const types = Array.from(byType.entries()).sort((a, b) => b[1] - a[1]);
    const areas = found.cells.slice().sort((a, b) => b.count - a.count);
    const areaName = (c) => `${c.lat.toFixed(4)}, ${c.lon.toFixed(4)}`;
    header.append(h("button", {
      type: "button", class: "secondary csv", dataset: { report: "crimes" },
      onclick: () => download(new Blob([toCsv(["section", "key", "count"], [
        ...types.map(([t, n]) => ["type", t, n]),
        ...areas.map((c) => [`area (${found.cell_m} m cell)`, areaName(c), c.count]),
      ])], { type: "text/csv" }), "crimes-by-type-and-area.csv"),
    }, "CSV"));
    if (!found.total) {
      fill(body, h("p", { class: "muted" }, "No crime reports in this period."));
      return;
    }
    fill(body,
      h("p", {}, `${found.total} reports in the period.`),
      h("h4", {}, "By type"), bars(types.map(([t, n]) => ({ label: label(t), value: n })), { title: "Crime reports by type" }),
      h("h4", {}, `By area (${found.cell_m} m cells, busiest first)`),
      h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["Area (centre)", "Reports", "Types"].map((t) => h("th", {}, t)))),
        h("tbody", {}, areas.slice(0, 20).map((c) => h("tr", {}, h("td", {}, areaName(c)), h("td", {}, c.count),
          h("td", {}, Object.entries(c.by_type || {}).map(([t, n]) => `${label(t)} ${n}`).join(", ")))))));
  }
}
