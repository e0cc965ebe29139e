// Watch lists in words: the mode badge, where a list is live, its calibrated threshold and what that
// means in false alerts, so a supervisor reads a list's settings without knowing the arithmetic.
import { counted, formatCount, h, label, roughly } from "../dom.js";

export const PURPOSES = ["wanted", "proclaimed_offender", "missing", "suspect", "habitual_offender", "cro", "watch", "other"];
export const ROLES = ["supervisor", "operator", "records_clerk", "patrol_officer", "admin"];

export function modeBadge(w) {
  if (w.status === "archived") return h("span", { class: "badge mode-archived" }, "archived");
  return w.live ? h("span", { class: "badge mode-live" }, "LIVE") : h("span", { class: "badge mode-search" }, "search");
}

export function cameraName(ctx, id) {
  const camera = ctx.cameras.get(id);
  return camera && camera.name !== id ? `${camera.name} (${id})` : id;
}

// Where a list raises alerts: its named cameras, else its districts, else everywhere.
export function whereLive(ctx, w) {
  if (w.mode !== "live") return "nowhere (search only)";
  if (w.cameras.length) return `cameras: ${w.cameras.map((id) => cameraName(ctx, id)).join(", ")}`;
  if (w.districts.length) return `districts: ${w.districts.join(", ")}`;
  return "everywhere";
}

// False alerts per camera-hour, readable however small: 0.058, or "less than 0.001 (about one every
// 1,700 hours on each camera)".
export function perCameraHour(x) {
  if (!(x > 0)) return "0";
  if (x < 1e-6) return "less than 0.001 (fewer than one in a million hours on each camera)";
  const shown = x >= 0.001 ? String(Number(x.toPrecision(2))) : "less than 0.001";
  return x >= 0.1 ? shown : `${shown} (about one every ${roughly(1 / x)} hours on each camera)`;
}

// A target false-positive identification rate as people say it: 1e-4 -> "1 in 10,000 strangers".
export function oneIn(target) {
  return `1 in ${formatCount(Math.round(1 / target))} strangers`;
}

export function percent(share) {
  return `${Math.round(share * 100)} %`;
}

// A calibration (the preview's answer, or a list's own fields) as two sentences.
export function calibrationText(c, tracksPerHour) {
  return `At ${counted(c.gallery, "enrolled face image")} this list alerts at similarity ≥ ${c.threshold.toFixed(3)} ` +
    `(a single frame ≥ ${c.strong_threshold.toFixed(3)} decides at once). Expected false alerts per camera-hour at ` +
    `${formatCount(tracksPerHour)} passers-by an hour: ${perCameraHour(c.false_alerts_per_camera_hour)}; ` +
    `${percent(c.genuine_pass)} of genuine faces reach the threshold.`;
}

export function grantText(grants, nobody) {
  if (!grants.length) return nobody;
  return grants.map((g) => (g.startsWith("role:") ? `${label(g.slice(5))}s` : `account ${g.slice(5)}`)).join(", ");
}
