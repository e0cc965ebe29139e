// Arrest notifications, missing persons and bodies found, kept on the phone (IndexedDB, photos
// included) until the network lets them go. Every item is stored here first with a key the phone makes
// (a UUID), then sent with that key in the Idempotency-Key header: the command centre stores a key once
// and answers a repeat with the first record, so an item sent again after a lost answer, a reload or the
// app being closed mid-send is still stored once.
//
// Each item shows its state: waiting (no network, or the server was down), sending, sent (with the
// record's number, kept a while so the officer sees it went), refused (the server's reason; the item
// stays, to be corrected and sent again, or discarded by the officer: never dropped silently).
import { ApiError, send, unreachable } from "../session.js";
import { uuid4 } from "./outbox.js";

const DB_NAME = "safecity-officer";
const STORE = "queue";
const RETRY_MS = 30000; // while items wait and the phone says it is online (the server was down)
const SENT_KEPT_MS = 12 * 3600 * 1000; // a sent item is listed this long (one shift), without its photos

function openDb() {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "key" });
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
}

// One transaction on the store: ``work(store)`` returns a request whose result is the answer.
async function inStore(db, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("the phone's storage refused the item"));
  });
}

// Worth trying again later: no answer, the server failing, the session being renewed, too many requests.
function later(error) {
  return unreachable(error) || error.status >= 500 || [401, 408, 429].includes(error.status);
}

export class Queue {
  // ``changed()`` after every change; ``sent(item, record)`` when the server stored (or had) an item.
  constructor(userId, changed, sent) {
    this.userId = userId;
    this.changed = changed;
    this.sent = sent;
    this.db = openDb();
    this.passes = Promise.resolve();
    window.addEventListener("online", () => this.flush());
    setInterval(async () => {
      if (navigator.onLine && (await this.items()).some((i) => i.state === "waiting")) this.flush();
    }, RETRY_MS);
  }

  async items() {
    const all = await inStore(await this.db, "readonly", (store) => store.getAll());
    return all.filter((i) => i.user_id === this.userId).sort((a, b) => a.queued_at.localeCompare(b.queued_at));
  }

  async get(key) {
    return (await inStore(await this.db, "readonly", (store) => store.get(key))) || null;
  }

  async _put(item) {
    await inStore(await this.db, "readwrite", (store) => store.put(item));
    this.changed();
    return item;
  }

  async update(key, change) {
    const item = await this.get(key);
    return item ? this._put({ ...item, ...change }) : null;
  }

  async remove(key) {
    await inStore(await this.db, "readwrite", (store) => store.delete(key));
    this.changed();
  }

  // Keep an item (``path``: where it goes; ``title``: how the list names it); throws if storage is full.
  add(kind, path, body, title) {
    const item = { key: uuid4(), user_id: this.userId, kind, path, body, title, queued_at: new Date().toISOString() };
    return this._put({ ...item, state: "waiting", reason: null, record_id: null, sent_at: null });
  }

  // A refused item corrected by the officer: the same key (the server stored nothing under it).
  correct(key, body, title) {
    return this.update(key, { body, title, state: "waiting", reason: null });
  }

  // Send what waits, one pass after another (never two at once); a pass stops at the first failure
  // that may pass (the rest waits too).
  flush() {
    const pass = this.passes.then(() => this._flush());
    this.passes = pass.catch(() => {});
    return pass;
  }

  async _flush() {
    const cutoff = Date.now() - SENT_KEPT_MS;
    for (const item of await this.items()) {
      if (item.state === "sent" && Date.parse(item.sent_at) < cutoff) await this.remove(item.key);
      if (item.state !== "waiting" && item.state !== "sending") continue; // "sending": cut short
      if (navigator.onLine === false) return;
      await this.update(item.key, { state: "sending" });
      try {
        const record = await send("POST", item.path, item.body, { "Idempotency-Key": item.key });
        const done = await this.update(item.key, { state: "sent", record_id: record.id, sent_at: new Date().toISOString(), body: null });
        this.sent(done, record);
      } catch (error) {
        if (later(error)) {
          await this.update(item.key, { state: "waiting" });
          return;
        }
        await this.update(item.key, { state: "refused", reason: error instanceof ApiError ? error.message : String(error) });
      }
    }
  }
}
