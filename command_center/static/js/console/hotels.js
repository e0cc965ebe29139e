// Hotels and their API keys (#/hotels, #/hotels/7; admins): every hotel, a new one, a hotel stopped or
// started again; one hotel's keys with a new key issued, a key rotated (a new key with the same label,
// then the old one revoked) or revoked. A new key is shown once, with a copy button: the API never
// shows it again.
import { fill, formatTime, formValues, h, localToIso, say } from "../dom.js";
import { table } from "../records.js";
import { getJson, send } from "../session.js";
import { attempt, field, heading, twoStep } from "./admin_kit.js";

export class HotelsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.hotels = [];
    this.hotel = null;
  }

  mount(container) {
    this.form = h("form", { class: "filters", id: "hotel-form", autocomplete: "off" },
      field("Name", { name: "name", required: true, maxlength: 200 }),
      field("Licence no.", { name: "licence_no", required: true, maxlength: 64 }),
      field("Address", { name: "address", required: true, maxlength: 500 }),
      field("District", { name: "district", required: true, maxlength: 64 }),
      field("Latitude", { name: "latitude", type: "number", step: "any", min: -90, max: 90 }),
      field("Longitude", { name: "longitude", type: "number", step: "any", min: -180, max: 180 }),
      h("button", { type: "submit" }, "Add hotel"));
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.create(); });
    this.message = h("p", { class: "message", id: "hotels-message", role: "status" });
    this.results = h("div", { id: "hotels-results" });
    this.keys = h("section", { class: "panel", id: "hotel-keys", hidden: true });
    fill(container, heading("Hotels and their API keys", "hotels", () => this.load()), this.form, this.message, this.results, this.keys);
  }

  async show(params) {
    await this.load();
    const id = Number(params[0]);
    this.hotel = this.hotels.find((x) => x.id === id) || null;
    this.keys.hidden = !this.hotel;
    if (this.hotel) await this.loadKeys();
  }

  async load() {
    try {
      this.hotels = await getJson("/integrations/hotels?limit=500");
      fill(this.results, table([
        ["Hotel", (x) => [h("a", { href: `#/hotels/${x.id}`, class: "name" }, x.name), h("div", { class: "muted" }, x.address)]],
        ["Id", (x) => String(x.id)],
        ["Licence", (x) => x.licence_no],
        ["District", (x) => x.district],
        ["Position", (x) => (x.latitude === null ? "" : `${x.latitude.toFixed(5)}, ${x.longitude.toFixed(5)}`)],
        ["Keys", (x) => (x.active ? h("span", { class: "badge status-resolved" }, "accepted") : h("span", { class: "badge status-dismissed" }, "stopped"))],
        ["", (x) => h("div", { class: "inline" }, h("a", { href: `#/hotels/${x.id}` }, "API keys"),
          x.active ? twoStep("Stop every key", "Really stop?", () => this.setActive(x, false)) : h("button", { type: "button", class: "secondary", onclick: () => this.setActive(x, true) }, "Accept its keys again"))],
      ], this.hotels.map((x) => ({ ...x, __attrs: { dataset: { hotel: x.id } } })), { id: "hotels-table" }));
    } catch (error) {
      say(this.message, error.message, "error");
    }
  }

  async create() {
    const v = formValues(this.form);
    const body = { name: v.name, licence_no: v.licence_no, address: v.address, district: v.district };
    if (v.latitude && v.longitude) Object.assign(body, { latitude: Number(v.latitude), longitude: Number(v.longitude) });
    const made = await attempt(this.message, () => send("POST", "/integrations/hotels", body), (x) => `Hotel ${x.id} added: ${x.name}`);
    if (made) {
      this.form.reset();
      location.hash = `#/hotels/${made.id}`;
    }
  }

  async setActive(hotel, active) {
    const done = active ? `${hotel.name}: its keys are accepted again` : `${hotel.name}: every key of it is refused now`;
    if (await attempt(this.message, () => send("PATCH", `/integrations/hotels/${hotel.id}`, { active }), done)) await this.show([String(this.hotel ? this.hotel.id : "")]);
  }

  async loadKeys(issued = null) {
    const hotel = this.hotel;
    this.issueForm = h("form", { class: "filters", id: "key-form", autocomplete: "off" },
      field("Label (which system holds it)", { name: "label", required: true, maxlength: 200, placeholder: "front desk PMS" }),
      field("Expires (optional)", { name: "expires_at", type: "datetime-local" }),
      h("button", { type: "submit" }, "Issue a key"));
    this.issueForm.addEventListener("submit", (event) => { event.preventDefault(); this.issue(); });
    this.keyMessage = h("p", { class: "message", id: "keys-message", role: "status" });
    try {
      const keys = await getJson(`/integrations/hotels/${hotel.id}/keys`);
      fill(this.keys, h("header", {}, h("h3", {}, `API keys of ${hotel.name}`), h("a", { href: "#/hotels" }, "Close")),
        issued ? this.newKey(issued) : null, this.issueForm, this.keyMessage,
        table([
          ["Key id", (k) => h("code", {}, k.key_id)],
          ["Label", (k) => k.label],
          ["Scopes", (k) => k.scopes.join(", ")],
          ["Issued", (k) => [formatTime(k.created_at), h("div", { class: "muted" }, k.created_by)]],
          ["Expires", (k) => formatTime(k.expires_at)],
          ["Last used", (k) => formatTime(k.last_used_at) || "never"],
          ["State", (k) => (k.revoked_at ? h("span", { class: "badge status-dismissed" }, `revoked ${formatTime(k.revoked_at)}`) : h("span", { class: "badge status-resolved" }, "valid"))],
          ["", (k) => (k.revoked_at ? "" : h("div", { class: "inline" },
            twoStep("Rotate", "Really rotate?", () => this.rotate(k)),
            twoStep("Revoke", "Really revoke?", () => this.revoke(k))))],
        ], keys.map((k) => ({ ...k, __attrs: { dataset: { key: k.key_id } } })), { id: "keys-table" }));
    } catch (error) {
      fill(this.keys, h("p", { class: "message error" }, error.message));
    }
  }

  // The raw key, this once: selectable, with a copy button and the warning.
  newKey(issued) {
    const value = h("input", { id: "new-key-value", readonly: true, value: issued.api_key, size: 60, "aria-label": "the new API key" });
    const copied = h("span", { class: "muted", id: "new-key-copied" });
    const copy = async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(issued.api_key);
      } catch (error) {
        document.execCommand("copy"); // the selected text, where the clipboard API is not offered
      }
      copied.textContent = "Copied";
    };
    return h("div", { class: "panel new-key", id: "new-key" },
      h("p", { class: "error", role: "alert" }, `New key ${issued.key_id} (${issued.label}): copy it now. It will not be shown again; `
        + "the hotel's system sends it as the X-API-Key header."),
      h("div", { class: "inline" }, value, h("button", { type: "button", id: "new-key-copy", onclick: copy }, "Copy"), copied));
  }

  issueKey(label, expires) {
    const body = { label };
    if (expires) body.expires_at = expires;
    return send("POST", `/integrations/hotels/${this.hotel.id}/keys`, body);
  }

  async issue() {
    const v = formValues(this.issueForm);
    const issued = await attempt(this.keyMessage, () => this.issueKey(v.label, localToIso(v.expires_at)), "");
    if (issued) await this.loadKeys(issued);
  }

  async rotate(key) {
    const issued = await attempt(this.keyMessage, () => this.issueKey(key.label, key.expires_at), "");
    if (!issued) return;
    const revoked = await attempt(this.keyMessage, () => send("DELETE", `/integrations/keys/${key.key_id}`), "");
    await this.loadKeys(issued);
    if (revoked === undefined) say(this.keyMessage, `The new key is issued but ${key.key_id} could not be revoked: revoke it below`, "error");
  }

  async revoke(key) {
    if (await attempt(this.keyMessage, () => send("DELETE", `/integrations/keys/${key.key_id}`), "") !== undefined) {
      await this.loadKeys();
      say(this.keyMessage, `Key ${key.key_id} revoked: the hotel's requests with it are refused from now on`, "info");
    }
  }
}
