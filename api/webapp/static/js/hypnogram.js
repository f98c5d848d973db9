// The night as a hypnogram: one row per stage (awake at the top, deep at the bottom), so
// the height says the stage and colour only repeats it. An SVG drawn from the summary's
// runs (GET /bands/{id}/summary: sleep.hypnogram); light/deep/REM are estimates.
// Times are the wearer's local times, as the day is theirs.
import { h } from "./dom.js";
import { t, clock } from "./i18n.js";

const ROWS = ["wake", "rem", "light", "deep"];
const FILL = { wake: "#d93f0b", rem: "#7e57c2", light: "#64b5f6", deep: "#1a237e" };
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) el.append(c);
  return el;
}

export function hypnogram(runs, zone) {
  if (!runs.length) return h("p", { class: "note", id: "hypnogram", text: t("no_sleep_night") });
  const W = 600, H = 160, left = 96, right = 8, top = 8, rowH = 30;
  const t0 = Date.parse(runs[0].start), t1 = Date.parse(runs.at(-1).end);
  const x = (ms) => left + ((ms - t0) / Math.max(1, t1 - t0)) * (W - left - right);
  const minutesBy = {};
  const blocks = runs.map((r) => {
    const a = Date.parse(r.start), b = Date.parse(r.end);
    minutesBy[r.stage] = (minutesBy[r.stage] || 0) + (b - a) / 60e3;
    const row = ROWS.indexOf(r.stage);
    return svg("rect", { x: x(a), y: top + row * rowH + 4, width: Math.max(1, x(b) - x(a)),
      height: rowH - 8, fill: FILL[r.stage], "data-stage": r.stage });
  });
  const labels = ROWS.map((s, i) => svg("text", { x: left - 6, y: top + i * rowH + rowH / 2 + 5,
    "text-anchor": "end", "font-size": 13, fill: "#111" }, t(`hyp_${s}`)));
  const lines = ROWS.map((_, i) => svg("line", { x1: left, x2: W - right, y1: top + (i + 1) * rowH,
    y2: top + (i + 1) * rowH, stroke: "#ddd" }));
  const ticks = [];
  for (let ms = Math.ceil(t0 / 3600e3) * 3600e3; ms <= t1; ms += 3600e3)
    ticks.push(svg("text", { x: x(ms), y: H - 8, "text-anchor": "middle", "font-size": 12, fill: "#444" },
      clock(new Date(ms).toISOString(), zone)));
  const summary = t("hypnogram_label", {
    from: clock(runs[0].start, zone), to: clock(runs.at(-1).end, zone),
    wake: Math.round(minutesBy.wake || 0), rem: Math.round(minutesBy.rem || 0),
    light: Math.round(minutesBy.light || 0), deep: Math.round(minutesBy.deep || 0),
  });
  return h("figure", { class: "hypnogram", id: "hypnogram" },
    svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": summary, width: "100%" },
      lines, labels, blocks, ticks),
    h("figcaption", { class: "note", text: summary }));
}
