// Case-status reminders for the investigating officer: the officer's own cases with no update for the
// configured days, and challans falling due (GET /cases/reminders, audited), soonest first, with a count
// on the tab. Read when the app starts, every few minutes and when the network comes back; each also
// arrives once as a notice when it falls due. Not kept on the phone (they name persons and cases).
import { fill, formatTime, h, label } from "../dom.js";
import { getJson, unreachable } from "../session.js";

const EVERY_MS = 10 * 60 * 1000;

function card(r) {
  const what = r.kind === "challan" ? (r.overdue ? "Challan overdue" : "Challan due") : "No update";
  return h("article", { class: `reminder ${r.overdue ? "overdue" : ""}`, dataset: { case: r.case_id, kind: r.kind } },
    h("h4", {}, `FIR ${r.fir_number}, ${r.police_station}`, " ", h("span", { class: `badge ${r.overdue ? "refused" : "waiting"}` }, what)),
    h("p", {}, `${r.person_name} · ${label(r.status)}`),
    h("p", { class: "muted" }, r.kind === "challan" ? `due ${formatTime(r.due_at)}` : `last update ${formatTime(r.updated_at)}`));
}

export function mountReminders(container, badge) {
  const list = h("div", { id: "reminders-list" });
  const message = h("p", { class: "message", id: "reminders-message", role: "status" });
  fill(container, h("h2", {}, "Reminders"), h("p", { class: "muted" }, "Your cases as investigating officer that need an update, and challans falling due."), message, list);
  const load = async () => {
    try {
      const answer = await getJson("/cases/reminders");
      const found = answer.reminders;
      badge.textContent = String(found.length);
      badge.hidden = !found.length;
      message.textContent = "";
      fill(list, found.length ? found.map(card)
        : h("p", { class: "muted", id: "reminders-empty" }, `Nothing due: every case of yours was updated within ${answer.stale_after_days} days.`));
    } catch (error) {
      message.textContent = unreachable(error) ? "No network: reminders show when the phone is online." : error.message;
    }
  };
  load();
  setInterval(load, EVERY_MS);
  window.addEventListener("online", load);
  return load;
}
