// Pieces shared by the administration screens (users, hotels, cameras, patrol units): labelled inputs
// and selects, a button that asks for a second click before it does something that cannot be undone,
// the reason a change is recorded with, and running a request with the API's answer (its 4xx reason
// included) shown in the screen's message line.
import { h, label, say } from "../dom.js";

export function field(text, attrs) {
  return h("label", {}, text, h("input", attrs));
}

// options: [value, shown] pairs, or plain values shown with their underscores as spaces.
export function choice(text, attrs, options, selected = "") {
  const select = h("select", attrs, options.map((o) => {
    const [value, shown] = Array.isArray(o) ? o : [o, label(o)];
    return h("option", { value, selected: value === selected }, shown);
  }));
  return text ? h("label", {}, text, select) : select;
}

// "Revoke" -> "Really revoke?" -> action. A third click is not needed: the second one acts.
export function twoStep(text, confirmText, action, attrs = {}) {
  const button = h("button", { type: "button", class: "secondary", ...attrs }, text);
  button.addEventListener("click", async () => {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = confirmText;
      return;
    }
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      button.classList.remove("armed");
      button.textContent = text;
    }
  });
  return button;
}

// The reason typed into ``input`` (5..500 characters), or null after saying what is missing.
export function reasonOf(input, message) {
  const reason = input.value.trim();
  if (reason.length >= 5) return reason;
  say(message, "State a reason (at least 5 characters): it is recorded in the audit trail.", "error");
  input.focus();
  return null;
}

// Run ``request``; say ``done`` (a string, or a function of the answer) or the API's reason for refusing.
export async function attempt(message, request, done) {
  try {
    const answer = await request();
    say(message, typeof done === "function" ? done(answer) : done, "info");
    return answer;
  } catch (error) {
    say(message, error.message, "error");
    return undefined;
  }
}

// A screen's heading with a button that reads its list again (accounts, units and health change elsewhere).
export function heading(text, id, reload) {
  return h("header", { class: "screen-head" }, h("h2", {}, text),
    h("button", { type: "button", class: "secondary", id: `${id}-refresh`, onclick: reload }, "Refresh"));
}

// "Islamabad, Rawalpindi" -> ["Islamabad", "Rawalpindi"]
export function districtList(text) {
  return text.split(",").map((d) => d.trim()).filter(Boolean);
}
