// "Fingerprint": an officer photographs or chooses a print, states why, and sees the AFIS's candidates
// (ranked, with their scores) and the CRO person each names. The search is audited like any other.
import { fill, formValues, h, label, say } from "../dom.js";
import { keepReason, reasonField } from "../records.js";
import { send } from "../session.js";

function candidateCard(c) {
  const p = c.person;
  return h("article", { class: "person fingerprint", dataset: { person: p ? p.id : "", rank: c.rank } },
    h("h3", {}, `${c.rank}. `, p ? p.name : `subject ${c.subject}`, " ",
      p ? h("span", { class: "badge" }, label(p.category)) : null),
    h("p", {}, `score ${c.score.toFixed(1)}`,
      p ? ` · ${[p.father_name && `s/o ${p.father_name}`, p.cnic, p.district].filter(Boolean).join(" · ")}` : " · no CRO record"),
    p && p.address ? h("p", { class: "muted" }, p.address) : null);
}

export function fingerprintSection() {
  const image = h("input", { type: "file", name: "image", accept: "image/*", capture: "environment", required: true, id: "officer-fingerprint-image" });
  const form = h("form", { class: "filters", id: "officer-fingerprint-form" },
    h("label", { class: "camera-button" }, "Take or choose a fingerprint photo", image),
    reasonField("officer-fingerprint-reason"),
    h("button", { type: "submit" }, "Identify"));
  const message = h("p", { class: "message", id: "officer-fingerprint-message", role: "status" });
  const results = h("div", { id: "officer-fingerprint-results" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { reason } = formValues(form);
    keepReason(reason);
    const body = new FormData();
    body.append("image", image.files[0], image.files[0].name || "print.png");
    body.append("reason", reason);
    say(message, "Asking the AFIS…");
    fill(results);
    try {
      const answer = await send("POST", "/fingerprints/identify", body);
      const n = answer.candidates.length;
      say(message, n ? `${n} candidate${n === 1 ? "" : "s"} (score ≥ ${answer.min_score})` : "No match in the AFIS", n ? "info" : "error");
      fill(results, answer.candidates.map(candidateCard));
    } catch (error) {
      say(message, error.message, "error");
    }
  });
  return [h("h2", {}, "Fingerprint"), form, message, results];
}
