// Investigative photo search (POST /faces/search), shared by the console's "Photo search" screen and the
// officer app's "Check a face": the request, and the ranked candidates as cards. A search raises no
// alert and pages nobody; the cards say how far a score alone can be trusted, so that a person judges.
import { counted, fill, formatSimilarity, formatTime, h, label, roughly, say } from "./dom.js";
import { send } from "./session.js";

export const INVESTIGATIVE = "Investigative search: no alert is raised and nobody is sent. The candidates are the closest " +
  "enrolled faces, ranked by similarity; none of them is an identification until a person has compared the faces " +
  "and the records.";

const MANY = 1e9;

// What ``chance_matches`` (strangers expected to score this high against a gallery this size) means.
export function chanceReading(chance) {
  if (chance >= 1) {
    const many = roughly(chance);
    const strangers = many === "1" ? "1 stranger" : `${many} strangers`;
    return { strength: "weak", text: `score alone is not distinctive: about ${strangers} would score this high against a gallery this size` };
  }
  const oneIn = chance > 0 ? 1 / chance : Infinity;
  if (oneIn >= MANY) return { strength: "strong", text: "fewer than 1 in a billion strangers would score this high" };
  return { strength: oneIn >= 1000 ? "strong" : oneIn >= 20 ? "fair" : "weak", text: `about 1 in ${roughly(oneIn)} strangers would score this high` };
}

// The photo, the reason and the choices as the API takes them (multipart); the answer as it comes.
export function searchFaces(photo, reason, { lists = [], topK = null } = {}) {
  const body = new FormData();
  body.append("photo", photo, photo.name || "photo.jpg");
  body.append("reason", reason);
  for (const id of lists) body.append("lists", String(id));
  if (topK) body.append("top_k", String(topK));
  return send("POST", "/faces/search", body);
}

function caseLine(c) {
  return [`FIR ${c.fir_number}`, c.police_station, c.sections.join(", "), label(c.status)].filter(Boolean).join(" · ");
}

function linkedPerson(person, compact) {
  const shown = compact ? person.cases.slice(0, 3) : person.cases;
  const more = person.cases.length - shown.length;
  return h("li", { dataset: { person: person.id } },
    h("strong", {}, person.name), person.father_name ? ` s/o ${person.father_name}` : "", ` (${label(person.category)})`,
    person.cases.length
      ? h("ul", { class: "cases" }, shown.map((c) => h("li", {}, caseLine(c))), more > 0 ? h("li", { class: "muted" }, `and ${more} more`) : null)
      : h("div", { class: "muted" }, "No cases on record."));
}

// One ranked candidate: the enrolled face crop, the score and what it is worth, the lists, the legal basis
// and the CRO persons linked to the profile with their cases. ``compact``: the officer's phone.
export function candidateCard(c, compact = false) {
  const reading = chanceReading(c.chance_matches);
  const side = compact ? 88 : 120;
  const photo = h("img", {
    class: "face", alt: `enrolled face of ${c.name}`, width: side, height: side,
    src: c.photo_jpeg ? `data:image/jpeg;base64,${c.photo_jpeg}` : undefined,
  });
  const heading = compact ? "h3" : "h4";
  return h("article", { class: `face-candidate ${reading.strength}`, dataset: { profile: c.profile_id, rank: c.rank } },
    h("div", { class: "rank" }, `#${c.rank}`),
    photo,
    h("div", { class: "about" },
      h(heading, {}, c.name, " ", h("span", { class: "badge" }, label(c.category))),
      h("p", { class: "score" }, h("strong", { class: "similarity" }, `similarity ${formatSimilarity(c.similarity)}`), " · ",
        h("span", { class: "chance" }, reading.text)),
      h("p", {}, h("span", { class: "muted" }, "Lists: "), c.lists.length ? c.lists.join(", ") : "—"),
      h("p", {}, h("span", { class: "muted" }, "Legal basis: "), c.legal_reference, " · ", label(c.status),
        " · lapses ", formatTime(c.expires_at)),
      c.persons.length
        ? [h("p", { class: "muted" }, "CRO records"), h("ul", { class: "linked" }, c.persons.map((p) => linkedPerson(p, compact)))]
        : h("p", { class: "muted" }, "No CRO person linked.")));
}

const NAMED_LISTS = 4; // more lists searched than this are counted, not named

// What was searched, in a sentence.
export function searchSummary(answer) {
  if (!answer.faces_in_photo) return "No face was found in the photo: use one where the face is clear, frontal and not too small.";
  const faces = answer.faces_in_photo === 1 ? "One face found" : `${answer.faces_in_photo} faces found, the largest searched`;
  const names = answer.lists_searched.length <= NAMED_LISTS ? ` (${answer.lists_searched.join(", ")})` : "";
  return `${faces}; ${counted(answer.lists_searched.length, "list")} searched${names}, ${counted(answer.gallery, "enrolled face image")}. ` +
    `${counted(answer.candidates.length, "candidate")}, closest first.`;
}

// Run a search and show its answer: the summary in ``message``, the cards in ``results``.
export async function showSearch(photo, reason, options, message, results, compact = false) {
  say(message, "Searching…");
  fill(results);
  try {
    const answer = await searchFaces(photo, reason, options);
    say(message, searchSummary(answer), answer.faces_in_photo ? "info" : "error");
    fill(results, answer.candidates.map((c) => candidateCard(c, compact)));
    return answer;
  } catch (error) {
    say(message, error.message, "error");
    return null;
  }
}
