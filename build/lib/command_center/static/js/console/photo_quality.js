// First look at an enrolment photo in the browser, before it is sent: type, size, resolution, exposure
// and sharpness. The command centre then checks what only the face models can (one face, big enough)
// and names the photo it refuses, so the clerk learns which photo to retake.
import { readAsDataUrl } from "../dom.js";

const TYPES = new Set(["image/jpeg", "image/png"]);
const MAX_BYTES = 10_000_000;
const MIN_SIDE = 240; // px; the face must be at least 60 px within it
const SAMPLE_SIDE = 256; // measured on a copy this size, so photos of any size score alike
const MIN_SHARPNESS = 60; // variance of the Laplacian; camera-shaken or defocused photos score lower
const DARK = 50;
const BRIGHT = 215;

function decode(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("cannot be read as an image"));
    img.src = src;
  });
}

// Mean brightness and the variance of the Laplacian of the grey image (a standard focus measure).
function measure(img) {
  const scale = SAMPLE_SIDE / Math.max(img.naturalWidth, img.naturalHeight);
  const w = Math.max(3, Math.round(img.naturalWidth * Math.min(scale, 1)));
  const hgt = Math.max(3, Math.round(img.naturalHeight * Math.min(scale, 1)));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = hgt;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.drawImage(img, 0, 0, w, hgt);
  const rgba = g.getImageData(0, 0, w, hgt).data;
  const grey = new Float32Array(w * hgt);
  let sum = 0;
  for (let i = 0; i < grey.length; i += 1) {
    grey[i] = 0.299 * rgba[i * 4] + 0.587 * rgba[i * 4 + 1] + 0.114 * rgba[i * 4 + 2];
    sum += grey[i];
  }
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let y = 1; y < hgt - 1; y += 1) {
    for (let x = 1; x < w - 1; x += 1) {
      const i = y * w + x;
      const lap = grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * grey[i];
      n += 1;
      const delta = lap - mean;
      mean += delta / n;
      m2 += delta * (lap - mean);
    }
  }
  return { brightness: sum / grey.length, sharpness: n > 1 ? m2 / (n - 1) : 0 };
}

// {name, ok, problems: [...] (refused), warnings: [...] (sent, but likely to match badly), notes, preview}
export async function checkPhoto(file) {
  const result = { name: file.name, ok: true, problems: [], warnings: [], notes: [], preview: null };
  const warn = (text) => result.warnings.push(text);
  const refuse = (text) => { result.ok = false; result.problems.push(text); };
  if (!TYPES.has(file.type)) refuse(`is ${file.type || "of unknown type"}: use a JPEG or PNG photo`);
  if (file.size > MAX_BYTES) refuse(`is ${(file.size / 1e6).toFixed(1)} MB: at most 10 MB`);
  if (!result.ok) return result;
  try {
    result.preview = await readAsDataUrl(file);
    const img = await decode(result.preview);
    const side = Math.min(img.naturalWidth, img.naturalHeight);
    result.notes.push(`${img.naturalWidth}×${img.naturalHeight} px`);
    if (side < MIN_SIDE) refuse(`is only ${side} px on its short side: at least ${MIN_SIDE} px, the face filling much of it`);
    const { brightness, sharpness } = measure(img);
    result.notes.push(`sharpness ${Math.round(sharpness)}`, `brightness ${Math.round(brightness)}`);
    if (sharpness < MIN_SHARPNESS) warn("looks blurred (out of focus or shaken): use a sharper photo");
    if (brightness < DARK) warn("is too dark: the face will not be found reliably");
    if (brightness > BRIGHT) warn("is over-exposed: the face will not be found reliably");
  } catch (error) {
    refuse(error.message);
  }
  return result;
}
