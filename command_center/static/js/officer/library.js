// The resource library on the phone: the documents the control room pinned (Acts, SOPs, circulars) are
// kept on the phone to read without a network (Cache Storage, refreshed whenever the app is online); the
// whole library is searched online.
import { fill, h, query, say } from "../dom.js";
import { call, getJson } from "../session.js";

const CACHE = "safecity-library-v1";
const LIST_KEY = "safecity.officer.library";

function kept() {
  try {
    return JSON.parse(localStorage.getItem(LIST_KEY) || "[]");
  } catch {
    return [];
  }
}

function cacheKey(doc) {
  return `/library/${doc.id}/file?sha256=${doc.sha256}`; // a changed file is a new entry
}

// The pinned documents fetched (with the session) into the phone's cache; those no longer pinned dropped.
async function sync() {
  const page = await getJson("/library?pinned=true&limit=200");
  const cache = await caches.open(CACHE);
  const wanted = new Set(page.documents.map(cacheKey));
  for (const doc of page.documents) {
    if (await cache.match(cacheKey(doc))) continue;
    const response = await call(doc.file, { headers: { Accept: "*/*" } });
    if (response.ok) await cache.put(cacheKey(doc), response);
  }
  for (const request of await cache.keys()) {
    const url = new URL(request.url);
    if (!wanted.has(url.pathname + url.search)) await cache.delete(request);
  }
  localStorage.setItem(LIST_KEY, JSON.stringify(page.documents));
  return page.documents;
}

async function read(doc, reader) {
  const cache = await caches.open(CACHE);
  let response = await cache.match(cacheKey(doc));
  if (!response) response = await call(doc.file, { headers: { Accept: "*/*" } });
  if (!response.ok) throw new Error(`the document could not be read (${response.status})`);
  const blob = await response.blob();
  const title = h("h3", {}, doc.title);
  if (doc.media_type.startsWith("text/")) {
    fill(reader, title, h("pre", { class: "document" }, await blob.text()));
  } else {
    const url = URL.createObjectURL(blob);
    fill(reader, title, h("a", { href: url, target: "_blank", rel: "noopener", download: doc.filename }, `Open ${doc.filename}`));
  }
  reader.hidden = false;
}

function listOf(docs, reader, message) {
  return h("ul", { class: "documents" }, docs.map((doc) => h("li", {},
    h("button", { type: "button", class: "link", onclick: () => read(doc, reader).catch((e) => say(message, e.message, "error")) }, doc.title),
    h("span", { class: "muted" }, ` ${doc.category === "sop" ? "SOP" : doc.category}${doc.issued_on ? `, ${doc.issued_on}` : ""}`),
    doc.snippet ? h("div", { class: "muted" }, doc.snippet.replaceAll("[", "").replaceAll("]", "")) : null)));
}

export function mountLibrary(container) {
  const message = h("p", { class: "message", id: "library-message" });
  const onPhone = h("div", { id: "library-kept" });
  const found = h("div", { id: "library-found" });
  const reader = h("article", { id: "library-reader", hidden: true });
  const form = h("form", { id: "library-search" },
    h("label", {}, "Search the library", h("input", { name: "q", minlength: 2, maxlength: 200, required: true })),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const docs = await getJson(`/library/search${query({ q: form.elements.q.value })}`);
      fill(found, docs.length ? listOf(docs, reader, message) : h("p", {}, "Nothing found."));
    } catch (error) {
      say(message, navigator.onLine ? error.message : "No network: only the documents kept on this phone can be read.", "error");
    }
  });
  const showKept = (docs) => fill(onPhone, h("h3", {}, "Kept on this phone"),
    docs.length ? listOf(docs, reader, message) : h("p", { class: "muted" }, "No document is pinned for offline reading."));
  const refresh = () => sync().then(showKept).catch(() => showKept(kept()));
  fill(container, h("h2", {}, "Library"), message, onPhone, form, found, reader);
  showKept(kept());
  refresh();
  window.addEventListener("online", refresh);
}
