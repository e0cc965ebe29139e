// Person and vehicle search for the officer, and the officer's personal watchlist (persons followed).
import { fill, formValues, h, label, query, say } from "../dom.js";
import { keepReason, lastReason, reasonField } from "../records.js";
import { getJson, send } from "../session.js";
import { searchVehicles, vehicleForm } from "../console/vehicles.js";
import { fingerprintSection } from "./fingerprint.js";

const SAME_PLATE = new Set(["exact", "confusion"]); // the plate typed, or it with a misread character

function personCard(person, actions) {
  return h("article", { class: "person", dataset: { person: person.id } },
    h("h3", {}, person.name, " ", h("span", { class: "badge" }, label(person.category))),
    person.aliases.length ? h("p", { class: "muted" }, `also: ${person.aliases.join(", ")}`) : null,
    h("p", {}, [person.father_name && `s/o ${person.father_name}`, person.cnic, person.district].filter(Boolean).join(" · ")),
    person.address ? h("p", { class: "muted" }, person.address) : null,
    actions);
}

export function mountSearch(container) {
  const form = h("form", { class: "filters", id: "officer-person-search" },
    h("label", {}, "Name or alias (any spelling, Latin or Urdu)", h("input", { name: "q", required: true, maxlength: 200, id: "officer-person-q", dir: "auto" })),
    reasonField("officer-person-reason"),
    h("button", { type: "submit" }, "Search persons"));
  const message = h("p", { class: "message", id: "officer-person-message" });
  const results = h("div", { id: "officer-person-results" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    keepReason(values.reason);
    try {
      const page = await getJson(`/persons/search${query({ q: values.q, reason: values.reason, limit: 20 })}`);
      say(message, `${page.results.length} found`);
      fill(results, page.results.map((r) => {
        const note = h("span", { class: "message" });
        const follow = h("button", { type: "button", class: "secondary", onclick: () => followPerson(r.person.id, note) }, "Follow");
        return personCard(r.person, h("div", { class: "buttons" }, follow, note));
      }));
    } catch (error) {
      say(message, error.message, "error");
    }
  });
  const vForm = vehicleForm("officer-vehicle");
  const vMessage = h("p", { class: "message", id: "officer-vehicle-message" });
  const vResults = h("div", { id: "officer-vehicle-results", class: "scroll" });
  const verdict = h("p", { class: "verdict", id: "officer-vehicle-verdict", role: "status" });
  vForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(verdict);
    const found = await searchVehicles(vForm, vMessage, vResults);
    if (found) vehicleVerdict(verdict, formValues(vForm).q, found);
  });
  fill(container, h("h2", {}, "Persons"), form, message, results, h("h2", {}, "Vehicles"), vForm, verdict, vMessage, vResults,
    ...fingerprintSection());
}

// What the officer at a checkpoint needs first: is this plate on the hotlist, and as what.
function vehicleVerdict(verdict, typed, found) {
  const listed = found.filter((v) => SAME_PLATE.has(v.match.kind));
  if (listed.length) {
    const v = listed[0];
    const why = [v.reason, v.case_reference, v.vehicle].filter(Boolean).join(" · ");
    fill(verdict, h("strong", {}, `${v.plate}: ${label(v.status).toUpperCase()}`), v.alerting ? "" : " (no longer alerting)", why ? ` — ${why}` : "");
    verdict.className = `verdict ${v.alerting ? "listed" : ""}`;
  } else {
    fill(verdict, h("strong", {}, `${typed}: not listed`), found.length ? ` — ${found.length} similar plate(s) below: compare them` : " on the hotlist");
    verdict.className = "verdict clear";
  }
}

async function followPerson(id, note) {
  try {
    await send("POST", `/persons/${id}/follow${query({ reason: lastReason() })}`);
    say(note, "Following");
  } catch (error) {
    say(note, error.message, "error");
  }
}

export function mountWatchlist(container) {
  const list = h("div", { id: "following" });
  const message = h("p", { class: "message" });
  const load = async () => {
    try {
      const persons = await getJson("/persons/following");
      say(message, persons.length ? "" : "You follow nobody yet: follow a person from the search.");
      fill(list, persons.map((p) => {
        const note = h("span", { class: "message" });
        const unfollow = h("button", {
          type: "button", class: "secondary",
          onclick: async () => {
            try {
              await send("DELETE", `/persons/${p.id}/follow`);
              load();
            } catch (error) {
              say(note, error.message, "error");
            }
          },
        }, "Stop following");
        return personCard(p, h("div", { class: "buttons" }, unfollow, note));
      }));
    } catch (error) {
      say(message, error.message, "error");
    }
  };
  fill(container, h("h2", {}, "My watchlist"), h("p", { class: "muted" }, "You are told when these persons are seen by a camera, check into a hotel or are arrested."),
    h("button", { type: "button", class: "secondary", onclick: load }, "Refresh"), message, list);
  window.addEventListener("hashchange", () => { if (location.hash === "#watchlist") load(); });
  if (location.hash === "#watchlist") load();
}
