// What the officer's report forms share: labelled inputs, the phone's camera with previews (photos made
// smaller before they leave the phone or wait in its storage), the GPS position with typed-in
// coordinates as the fallback, and a form's values as the API wants them (empty fields left out).
import { fill, formValues, h, isoToLocal, localToIso, readAsDataUrl } from "../dom.js";
import { ApiError } from "../session.js";

const MAX_SIDE = 1600; // pixels: enough for a face or a number plate, small enough for a weak network
const JPEG_QUALITY = 0.85;
const GPS_TIMEOUT_MS = 10000;

// A labelled input: field("Name", {name: "person_name", required: true}).
export function field(text, attrs, tag = "input") {
  return h("label", {}, text, h(tag, attrs));
}

export function choice(text, name, options, attrs = {}) {
  return h("label", {}, text, h("select", { name, ...attrs },
    options.map(([value, shown]) => h("option", { value }, shown))));
}

// A datetime-local input set to now (the moment the officer reports).
export function whenField(text, name) {
  return field(text, { type: "datetime-local", name, required: true, value: isoToLocal(new Date()) });
}

// The form's named values, trimmed, empty ones left out; ``times``: datetime-local fields made ISO.
export function valuesOf(form, times = []) {
  const values = {};
  for (const [name, value] of Object.entries(formValues(form))) {
    if (value !== "") values[name] = times.includes(name) ? localToIso(value) : value;
  }
  return values;
}

// The phone's camera (rear) with previews of the photos taken.
export function camera(id, text, max = 1) {
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", id, multiple: max > 1 });
  const previews = h("div", { class: "previews", id: `${id}-previews` });
  input.addEventListener("change", async () => {
    const urls = await Promise.all([...input.files].slice(0, max).map(readAsDataUrl));
    fill(previews, urls.map((src) => h("img", { class: "probe", src, alt: "photo taken" })));
  });
  return {
    input,
    element: h("div", { class: "camera" }, h("label", { class: "camera-button" }, text, input), previews),
    async dataUrls() {
      return Promise.all([...input.files].slice(0, max).map(smaller));
    },
    clear() {
      input.value = "";
      fill(previews);
    },
  };
}

// A photo as a JPEG data: URL at most MAX_SIDE pixels on its longer side; a file the browser cannot
// read as an image is sent as it is (the API says what is wrong with it).
async function smaller(file) {
  const bitmap = await createImageBitmap(file).catch(() => null);
  if (!bitmap) return readAsDataUrl(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = h("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL("image/jpeg", JPEG_QUALITY);
}

// The base64 part of a data: URL (the JSON bodies' photo fields).
export function base64Of(dataUrl) {
  return dataUrl.slice(dataUrl.indexOf(",") + 1);
}

// A data: URL as a Blob (a multipart upload), without fetch (the page may connect only to its origin).
export function blobOf(dataUrl) {
  const [head, data] = dataUrl.split(",", 2);
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: head.slice(5).split(";")[0] || "image/jpeg" });
}

// Latitude and longitude inputs, filled from the phone's GPS when it answers; the officer can type them.
export function position(prefix) {
  const lat = h("input", { name: "latitude", type: "number", step: "any", min: -90, max: 90, id: `${prefix}-lat`, inputmode: "decimal" });
  const lon = h("input", { name: "longitude", type: "number", step: "any", min: -180, max: 180, id: `${prefix}-lon`, inputmode: "decimal" });
  const note = h("span", { class: "muted", id: `${prefix}-gps`, role: "status" });
  const locate = () => {
    if (!navigator.geolocation) {
      note.textContent = "No GPS on this device: type the position.";
      return;
    }
    note.textContent = "Finding your position…";
    navigator.geolocation.getCurrentPosition(
      (found) => {
        lat.value = found.coords.latitude.toFixed(6);
        lon.value = found.coords.longitude.toFixed(6);
        note.textContent = `GPS, within ${Math.round(found.coords.accuracy)} m`;
      },
      (error) => { note.textContent = `No GPS fix (${error.message}): type the position.`; },
      { enableHighAccuracy: true, timeout: GPS_TIMEOUT_MS, maximumAge: 60000 },
    );
  };
  const element = h("fieldset", { class: "position" }, h("legend", {}, "Position"),
    h("label", {}, "Latitude", lat), h("label", {}, "Longitude", lon), note,
    h("button", { type: "button", class: "secondary", onclick: locate }, "Use my GPS position"));
  return { element, locate };
}

// Numbers the API wants as numbers.
export function numbers(values, names) {
  for (const name of names) if (name in values) values[name] = Number(values[name]);
  return values;
}

// Why a report was not sent: the API's reason, or the network's absence.
export function reasonOf(error) {
  return error instanceof ApiError ? error.message : "no network; send it again when the phone is online";
}
