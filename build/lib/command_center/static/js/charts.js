// Plain SVG bar charts (no library): vertical bars for ordered keys (hours, days), horizontal bars for
// ranked groups (cameras, types). Colours come from CSS classes; nothing is styled inline.
const SVG = "http://www.w3.org/2000/svg";

function node(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

// rows: [{label, value, extra?}]; extra (0..value) is drawn over the bar, e.g. false positives.
export function columns(rows, { title = "", height = 160, barWidth = 18 } = {}) {
  const most = Math.max(1, ...rows.map((r) => r.value));
  const width = Math.max(rows.length * (barWidth + 4) + 40, 200);
  const svg = node("svg", { class: "chart", viewBox: `0 0 ${width} ${height + 36}`, role: "img", "aria-label": title });
  svg.append(node("title", {}, title));
  svg.append(node("text", { x: 0, y: 12, class: "axis" }, String(most)));
  rows.forEach((row, i) => {
    const x = 36 + i * (barWidth + 4);
    const barHeight = (row.value / most) * height;
    const bar = node("rect", { x, y: height + 16 - barHeight, width: barWidth, height: barHeight, class: "bar" });
    bar.append(node("title", {}, `${row.label}: ${row.value}`));
    svg.append(bar);
    if (row.extra) {
      const over = (row.extra / most) * height;
      svg.append(node("rect", { x, y: height + 16 - over, width: barWidth, height: over, class: "bar-extra" }));
    }
    if (rows.length <= 31 || i % Math.ceil(rows.length / 31) === 0) {
      svg.append(node("text", { x: x + barWidth / 2, y: height + 30, class: "tick", "text-anchor": "middle" }, row.tick ?? row.label));
    }
  });
  return svg;
}

export function bars(rows, { title = "", barHeight = 18, width = 520 } = {}) {
  const most = Math.max(1, ...rows.map((r) => r.value));
  const labelWidth = 180;
  const height = rows.length * (barHeight + 6) + 6;
  const svg = node("svg", { class: "chart", viewBox: `0 0 ${width} ${Math.max(height, 30)}`, role: "img", "aria-label": title });
  svg.append(node("title", {}, title));
  rows.forEach((row, i) => {
    const y = 6 + i * (barHeight + 6);
    const length = (row.value / most) * (width - labelWidth - 60);
    svg.append(node("text", { x: labelWidth - 6, y: y + barHeight - 5, class: "tick", "text-anchor": "end" }, row.label.slice(0, 28)));
    const bar = node("rect", { x: labelWidth, y, width: length, height: barHeight, class: "bar" });
    bar.append(node("title", {}, `${row.label}: ${row.value}`));
    svg.append(bar);
    if (row.extra) {
      svg.append(node("rect", { x: labelWidth, y, width: (row.extra / most) * (width - labelWidth - 60), height: barHeight, class: "bar-extra" }));
    }
    svg.append(node("text", { x: labelWidth + length + 6, y: y + barHeight - 5, class: "value" }, String(row.value)));
  });
  return svg;
}
