// The audible cue for high-priority alerts: a short two-tone beep made with WebAudio (no audio file).
// Browsers allow sound only after the user has interacted with the page; signing in counts, and the
// context is resumed on every click in case the browser suspended it.
import { $ } from "../dom.js";

const HIGH_PRIORITY = 2; // priorities 1 (most urgent) and 2 sound
const MUTE_KEY = "safecity.muted";

let context = null;
const counts = new Map(); // why -> cues sounded

function audio() {
  if (!context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    context = new Context();
  }
  if (context.state === "suspended") context.resume().catch(() => {});
  return context;
}

export function isHighPriority(alert) {
  return alert.priority <= HIGH_PRIORITY;
}

function muted() {
  return localStorage.getItem(MUTE_KEY) === "1";
}

function showMute() {
  const button = $("sound");
  button.textContent = muted() ? "Sound off" : "Sound on";
  button.setAttribute("aria-pressed", String(!muted()));
}

export function bindSound() {
  showMute();
  $("sound").addEventListener("click", () => {
    localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
    showMute();
  });
  document.addEventListener("click", () => audio(), { capture: true });
}

function tone(ctx, frequency, start, length) {
  const oscillator = ctx.createOscillator();
  const gain = ctx.createGain();
  oscillator.type = "square";
  oscillator.frequency.value = frequency;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  oscillator.connect(gain).connect(ctx.destination);
  oscillator.start(start);
  oscillator.stop(start + length + 0.02);
}

// Sound the cue (unless muted) and count it where the page (and a test) can see: #sound[data-cues] in
// all, and #sound[data-cues-WHY] per reason ("alert", "escalated", "dispatch-timeout").
export function cue(why = "alert") {
  const button = $("sound");
  counts.set(why, (counts.get(why) || 0) + 1);
  button.dataset.cues = String(Array.from(counts.values()).reduce((a, b) => a + b, 0));
  button.setAttribute(`data-cues-${why}`, String(counts.get(why)));
  if (muted()) return;
  const ctx = audio();
  if (!ctx) return;
  const now = ctx.currentTime;
  tone(ctx, 880, now, 0.18);
  tone(ctx, 660, now + 0.22, 0.18);
}
