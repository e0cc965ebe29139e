// The map: cameras, patrol units with live positions, open alerts and crime hotspots, on Leaflet
// (vendored). With no tile server configured it draws the bundled outline of the region and a grid, so it
// works with no internet; a deployment with a tile server sets command_center.map_tile_url.
import { fill, formatTime, h, label, query } from "../dom.js";
import { ApiError, call, getJson } from "../session.js";

const UNIT_POLL_MS = 5000;
const HOTSPOT_DAYS = 30;
const OPEN = new Set(["new", "acknowledged", "dispatched", "on_scene"]);
const UNIT_COLOURS = { available: "#3fb950", busy: "#d29922", off_duty: "#8b949e" };

export function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

// A Leaflet map in ``box``: the configured tiles, or (offline) the bundled outline of the region and a grid;
// the map screen and the dossier both draw on one.
export async function baseMap(box) {
  const L = window.L;
  const config = await getJson("/map/config");
  const map = L.map(box, { preferCanvas: false, zoomControl: true, attributionControl: true }).setView(config.centre, config.zoom);
  map.attributionControl.setPrefix("Leaflet");
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: config.max_zoom, attribution: escapeHtml(config.attribution) }).addTo(map);
  } else {
    box.classList.add("offline");
    await outline(map, config.basemap);
    const grid = L.layerGroup().addTo(map);
    map.on("moveend", () => drawGrid(map, grid));
    drawGrid(map, grid);
  }
  L.control.scale({ imperial: false }).addTo(map);
  return map;
}

async function outline(map, url) {
  const L = window.L;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`basemap: HTTP ${response.status}`);
  const shapes = await response.json();
  L.geoJSON(shapes, {
    interactive: false,
    style: (feature) => ({
      color: "#6e7681", weight: 1, fillColor: feature.properties.name === "Pakistan" ? "#1f2a1f" : "#1a1f24", fillOpacity: 1,
    }),
  }).addTo(map);
}

// A latitude/longitude grid whose spacing follows the zoom (an offline map needs some sense of scale).
function drawGrid(map, grid) {
  const L = window.L;
  grid.clearLayers();
  const bounds = map.getBounds();
  const span = Math.max(bounds.getNorth() - bounds.getSouth(), bounds.getEast() - bounds.getWest());
  const steps = [10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
  const step = steps.find((s) => span / s >= 4) || steps[steps.length - 1];
  const style = { color: "#30363d", weight: 1, interactive: false };
  for (let lat = Math.floor(bounds.getSouth() / step) * step; lat <= bounds.getNorth(); lat += step) {
    L.polyline([[lat, bounds.getWest()], [lat, bounds.getEast()]], style).addTo(grid);
  }
  for (let lon = Math.floor(bounds.getWest() / step) * step; lon <= bounds.getEast(); lon += step) {
    L.polyline([[bounds.getSouth(), lon], [bounds.getNorth(), lon]], style).addTo(grid);
  }
}

export class MapScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.units = new Map(); // unit id -> marker
    this.timer = null;
  }

  mount(container) {
    this.status = h("p", { class: "map-status", id: "map-status" });
    this.box = h("div", { class: "map", id: "map" });
    fill(container, h("div", { class: "map-head" }, h("h2", {}, "Map"), this.status), this.box);
    this.ready = this.build().catch((error) => this.note("map", error.message));
  }

  async build() {
    const L = window.L;
    this.map = await baseMap(this.box);
    this.layers = {
      cameras: L.layerGroup().addTo(this.map),
      units: L.layerGroup().addTo(this.map),
      alerts: L.layerGroup().addTo(this.map),
      hotspots: L.layerGroup().addTo(this.map),
    };
    L.control.layers(null, {
      Cameras: this.layers.cameras,
      "Patrol units": this.layers.units,
      "Open alerts": this.layers.alerts,
      "Crime hotspots": this.layers.hotspots,
    }, { collapsed: false }).addTo(this.map);
    this.drawCameras();
    this.drawAlerts();
    this.ctx.feed.subscribe(() => this.drawAlerts());
    this.loadHotspots();
  }

  show() {
    if (!this.ready) return;
    this.ready.then(() => {
      if (!this.map) return;
      this.map.invalidateSize();
      this.pollUnits();
    });
  }

  note(layer, text) {
    this.notes = { ...(this.notes || {}), [layer]: text };
    this.status.textContent = Object.entries(this.notes).filter(([, t]) => t).map(([k, t]) => `${label(k)}: ${t}`).join(" · ");
  }

  drawCameras() {
    const L = window.L;
    for (const camera of this.ctx.cameras.values()) {
      if (camera.latitude === null || camera.longitude === null) continue;
      L.circleMarker([camera.latitude, camera.longitude], { radius: 6, color: "#58a6ff", weight: 2, fillOpacity: 0.6, className: "camera-marker" })
        .bindTooltip(`${escapeHtml(camera.name)} · ${escapeHtml(camera.district || "")}`)
        .addTo(this.layers.cameras);
    }
  }

  drawAlerts() {
    const L = window.L;
    if (!this.layers) return;
    this.layers.alerts.clearLayers();
    const byCamera = new Map();
    for (const alert of this.ctx.feed.list()) {
      if (!OPEN.has(alert.status)) continue;
      byCamera.set(alert.camera_id, [...(byCamera.get(alert.camera_id) || []), alert]);
    }
    for (const [cameraId, alerts] of byCamera) {
      const camera = this.ctx.cameras.get(cameraId);
      if (!camera || camera.latitude === null || camera.longitude === null) continue;
      const marker = L.circleMarker([camera.latitude, camera.longitude], {
        radius: 10 + Math.min(alerts.length, 10), color: "#f85149", weight: 3, fillOpacity: 0.3, className: "alert-marker",
      });
      const list = h("div", {}, h("strong", {}, camera.name), h("ul", {}, alerts.slice(0, 8).map((a) =>
        h("li", {}, h("a", { href: `#/alerts/${a.id}` }, `${a.profile_name}`), ` · ${label(a.status)} · P${a.priority}`))));
      marker.bindPopup(list).addTo(this.layers.alerts);
    }
    this.note("alerts", `${Array.from(byCamera.values()).flat().length} open`);
  }

  async pollUnits() {
    clearTimeout(this.timer);
    if (!this.ctx.can("patrol:read")) {
      this.note("units", "your role may not see patrol units");
      return;
    }
    try {
      this.drawUnits(await getJson("/patrol/units"));
    } catch (error) {
      this.note("units", error.message);
    }
    if (!document.getElementById("screen-map").hidden) this.timer = setTimeout(() => this.pollUnits(), UNIT_POLL_MS);
  }

  drawUnits(units) {
    const L = window.L;
    const seen = new Set();
    let placed = 0;
    for (const unit of units) {
      if (!unit.position) continue;
      placed += 1;
      seen.add(unit.id);
      const at = [unit.position.latitude, unit.position.longitude];
      const colour = UNIT_COLOURS[unit.duty_status] || "#d29922";
      const text = `${escapeHtml(unit.id)} · ${escapeHtml(label(unit.duty_status))} · ${Math.round(unit.position.age_s)} s ago`;
      let marker = this.units.get(unit.id);
      if (!marker) {
        marker = L.circleMarker(at, { radius: 7, weight: 2, fillOpacity: 0.9, className: "unit-marker" }).addTo(this.layers.units);
        marker.bindTooltip(text);
        this.units.set(unit.id, marker);
      }
      marker.setLatLng(at).setStyle({ color: colour, fillColor: colour }).setTooltipContent(text);
    }
    for (const [id, marker] of this.units) {
      if (!seen.has(id)) { marker.remove(); this.units.delete(id); }
    }
    this.note("units", `${placed} of ${units.length} placed`);
  }

  // Crime hotspots come from the crime-reports API; without it the layer says so and stays empty.
  async loadHotspots() {
    const L = window.L;
    const since = new Date(Date.now() - HOTSPOT_DAYS * 86400000).toISOString();
    const path = `/crimes/hotspots${query({ since, until: new Date().toISOString(), cell_m: 500 })}`;
    try {
      const response = await call(path);
      if (response.status === 404 || response.status === 405) {
        this.note("hotspots", "not available");
        return;
      }
      if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`, path);
      const found = await response.json();
      const most = Math.max(1, ...found.cells.map((c) => c.count));
      for (const cell of found.cells) {
        const share = cell.count / most;
        const types = Object.entries(cell.by_type || {}).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${escapeHtml(label(t))}: ${n}`);
        L.circle([cell.lat, cell.lon], {
          radius: found.cell_m / 2, stroke: false, fillColor: share > 0.66 ? "#f85149" : share > 0.33 ? "#d29922" : "#e3b341",
          fillOpacity: 0.25 + 0.5 * share, className: "hotspot",
        }).bindTooltip(`${cell.count} reports<br>${types.join("<br>")}`).addTo(this.layers.hotspots);
      }
      this.note("hotspots", `${found.total} reports in ${HOTSPOT_DAYS} days (${formatTime(since)} on)`);
    } catch (error) {
      this.note("hotspots", error.message);
    }
  }
}
