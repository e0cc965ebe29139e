// The officer app's service worker (served at /officer-sw.js, which puts VERSION and SHELL above this
// line). It keeps the app shell (the page, styles, icons, scripts, the deployment's page settings) so
// /officer opens with no network at all once it was opened once; the page then shows what waits on the
// phone and the library kept for offline reading, and says plainly that it is offline.
//
// Network first, the kept copy when there is no answer within NETWORK_WAIT_MS (or none at all): a phone
// with signal always runs the newest app. Nothing else is kept: API answers (records, searches, photos)
// go to the network and nowhere else.
const CACHE = `safecity-shell-${VERSION}`;
const NETWORK_WAIT_MS = 4000;
const KEPT = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("safecity-shell-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function shellPath(request) {
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return null;
  if (request.mode === "navigate" && (url.pathname === "/officer" || url.pathname === "/officer/")) return "/officer";
  return KEPT.has(url.pathname) ? url.pathname : null;
}

async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then((response) => {
    if (response.ok) cache.put(path, response.clone());
    return response;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS));
  try {
    const answer = await Promise.race([network, timeout]);
    if (answer) return answer;
  } catch (error) {
    // no network: the kept copy below
  }
  const kept = await cache.match(path);
  return kept || network;
}

self.addEventListener("fetch", (event) => {
  const path = shellPath(event.request);
  if (path) event.respondWith(networkFirst(event.request, path));
});
