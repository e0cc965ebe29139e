// Crime reports waiting on the phone until the network lets them go. Every report is stored here first
// (localStorage, its photos as data: URLs) with a key the phone makes (a UUID), then sent: the report with
// its key in the Idempotency-Key header (the command centre stores a key once and answers a repeat with
// the first report), then its photos one by one, each taken off the stored report once the server has
// it. A report leaves the phone only when everything arrived; sent again after a lost answer or a reload,
// it is still stored once. A report the server refuses (4xx) stays, with the reason, until discarded.
import { ApiError, send } from "../session.js";
import { blobOf } from "./fields.js";

const RETRY_MS = 30000; // while reports wait and the phone says it is online (the server was down)

// A random (version 4) UUID; crypto.randomUUID needs a secure context, which a LAN address is not.
export function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function offline(error) {
  return !(error instanceof ApiError) || error.status >= 500 || error.status === 401 || error.status === 429;
}

export class Outbox {
  // ``changed()`` after every change; ``sent(item, report)`` when a report has fully arrived.
  constructor(userId, changed, sent) {
    this.storageKey = `safecity.officer.outbox.${userId}`;
    this.changed = changed;
    this.sent = sent;
    this.passes = Promise.resolve();
    window.addEventListener("online", () => this.flush());
    setInterval(() => this.items().some((i) => !i.refused) && navigator.onLine && this.flush(), RETRY_MS);
  }

  items() {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey) || "[]");
    } catch (error) {
      return [];
    }
  }

  get(key) {
    return this.items().find((i) => i.key === key) || null;
  }

  _save(items) {
    localStorage.setItem(this.storageKey, JSON.stringify(items));
    this.changed();
  }

  _update(key, change) {
    this._save(this.items().map((i) => (i.key === key ? { ...i, ...change } : i)));
  }

  remove(key) {
    this._save(this.items().filter((i) => i.key !== key));
  }

  // Keep a report (and its photos) on the phone; throws if the phone's storage is full.
  add(report, photos) {
    const item = { key: uuid4(), report, photos, queued_at: new Date().toISOString(), report_id: null, refused: null };
    this._save([...this.items(), item]);
    return item;
  }

  // Send what waits, one pass after another (never two at once); a pass stops at the first network
  // failure (the rest waits too).
  flush() {
    const pass = this.passes.then(() => this._flush());
    this.passes = pass.catch(() => {});
    return pass;
  }

  async _flush() {
    if (navigator.onLine === false) return;
    for (const item of this.items()) {
      if (item.refused) continue;
      try {
        await this._send(item);
      } catch (error) {
        if (offline(error)) return;
        this._update(item.key, { refused: error.message });
      }
    }
  }

  async _send(item) {
    let reportId = item.report_id;
    let report = null;
    if (!reportId) {
      report = await send("POST", "/crimes", item.report, { "Idempotency-Key": item.key });
      reportId = report.id;
      this._update(item.key, { report_id: reportId });
    }
    for (let left = item.photos; left.length; left = left.slice(1)) {
      const form = new FormData();
      form.append("photo", blobOf(left[0]), "scene.jpg");
      try {
        await send("POST", `/crimes/${reportId}/photos`, form);
      } catch (error) {
        // the photo arrived before its answer was lost: the report holds it already
        if (!(error instanceof ApiError && error.status === 422 && /already/.test(error.message))) throw error;
      }
      this._update(item.key, { photos: left.slice(1) });
    }
    this.remove(item.key);
    this.sent(item, report || { id: reportId });
  }
}
