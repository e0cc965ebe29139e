// Missing persons and unidentified dead bodies (UDR): find a report, then the candidates the command
// centre ranked for it from the other side (a missing person's possible UDRs, a UDR's possible missing
// persons), each with its score, the face similarity when both have a photo, and why. Every search and
// every candidate list states a reason (audited). When the casework service is not running on this
// command centre, the screen says so.
import { fill, formatTime, formValues, h, label, query, say } from "../dom.js";
import { keepReason, lastReason, reasonField, table } from "../records.js";
import { call, loadImage } from "../session.js";

const UNAVAILABLE = "Missing-person and UDR cross-search is not available on this command centre.";

function age(c) {
  if (c.age_min === null && c.age_max === null) return "";
  return c.age_min === c.age_max ? `${c.age_min}` : `${c.age_min ?? "?"}–${c.age_max ?? "?"}`;
}

function title(kind, c) {
  return kind === "missing" ? c.name : `UDR ${c.udr_number}`;
}

// A GET that tells "this command centre has no such API" (a bare 404) from an answer.
async function ask(path) {
  const response = await call(path);
  const body = await response.json().catch(() => null);
  if (response.status === 404 && (!body || body.detail === "Not Found")) return { unavailable: true };
  if (!response.ok) {
    const detail = body && body.detail;
    throw new Error(typeof detail === "string" ? detail : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : `HTTP ${response.status}`);
  }
  return { body };
}

export class CrossmatchScreen {
  mount(container) {
    this.form = h("form", { class: "filters", id: "crossmatch-form" },
      h("label", {}, "Reports", h("select", { name: "kind" },
        h("option", { value: "missing" }, "Missing persons"),
        h("option", { value: "udr" }, "Unidentified dead bodies (UDR)"))),
      h("label", {}, "Name (missing) or UDR number", h("input", { name: "q", maxlength: 64 })),
      reasonField("crossmatch-reason"),
      h("button", { type: "submit" }, "Search"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.search(); });
    this.message = h("p", { class: "message", id: "crossmatch-message" });
    this.results = h("div", { id: "crossmatch-results" });
    this.candidates = h("div", { id: "crossmatch-candidates" });
    fill(container, h("h2", {}, "Missing persons and UDR cross-search"), this.form, this.message, this.results, this.candidates);
  }

  async search() {
    const { kind, q, reason } = formValues(this.form);
    keepReason(reason);
    say(this.message, "Searching…");
    fill(this.candidates);
    try {
      const answer = await ask(`/${kind}${query({ q, reason, limit: 50 })}`);
      if (answer.unavailable) {
        say(this.message, UNAVAILABLE, "error");
        return;
      }
      const page = answer.body;
      say(this.message, `${page.cases.length} of ${page.total}`);
      fill(this.results, table([
        [kind === "missing" ? "Name" : "UDR", (c) => title(kind, c)],
        ["Sex", (c) => label(c.sex)], ["Age", age], ["Status", (c) => label(c.status)],
        [kind === "missing" ? "Last seen" : "Found", (c) => formatTime(c.last_seen_at || c.found_at)],
        ["Where", (c) => c.last_seen_place || c.found_place || c.district || ""],
        ["", (c) => h("button", { type: "button", class: "secondary", onclick: () => this.candidatesOf(kind, c) }, "Candidates")],
      ], page.cases, { id: "crossmatch-table" }));
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async candidatesOf(kind, report) {
    fill(this.candidates, h("p", { class: "muted" }, "Ranking…"));
    try {
      const answer = await ask(`/${kind}/${report.id}/candidates${query({ reason: lastReason() })}`);
      if (answer.unavailable) {
        fill(this.candidates, h("p", { class: "message error" }, UNAVAILABLE));
        return;
      }
      const other = kind === "missing" ? "udr" : "missing";
      const found = answer.body.candidates;
      fill(this.candidates, h("h3", {}, `Candidates for ${title(kind, report)}`),
        found.length ? found.map((c) => this.card(other, c)) : h("p", { class: "muted" }, "No candidate yet."));
    } catch (error) {
      fill(this.candidates, h("p", { class: "message error" }, error.message));
    }
  }

  card(kind, candidate) {
    const c = candidate[kind];
    if (!c) return null;
    const photos = (c.photos || []).slice(0, 3).map((p) => {
      const img = h("img", { class: "face", alt: `photo of ${title(kind, c)}`, width: 72, height: 72 });
      loadImage(img, p.url, true);
      return img;
    });
    const reasons = Object.entries(candidate.reasons || {}).sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${label(k)} ${Math.round(v * 100)} %`).join(", ");
    return h("article", { class: "candidate", dataset: { candidate: c.id } },
      h("h4", {}, `${title(kind, c)} · ${Math.round(candidate.score * 100)} %`),
      h("div", { class: "photos" }, photos),
      h("p", {}, [label(c.sex), age(c) && `age ${age(c)}`, c.height_cm && `${c.height_cm} cm`, c.build, c.complexion].filter(Boolean).join(" · ")),
      c.marks ? h("p", {}, `Marks: ${c.marks}`) : null,
      h("p", { class: "muted" }, `${candidate.face_score !== null ? `face ${candidate.face_score.toFixed(2)} · ` : ""}${reasons}`));
  }
}
