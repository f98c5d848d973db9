// "Trends" for one wearer: per local day over a week, a month or a year
// (GET /bands/{id}/trends): steps, resting heart rate, sleep and its regularity, HRV.
// Each chart has its averages written beside it, for those who cannot see the chart.
import { api } from "./api.js";
import { h, heading } from "./dom.js";
import { t, number } from "./i18n.js";
import { minutes } from "./today.js";

const PERIODS = ["week", "month", "year"];

function mean(values) {
  const v = values.filter((x) => x != null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

function chart(box, days, values, { labelKey, color, bars, unit }) {
  const xs = days.map((d) => Date.parse(`${d.day}T12:00:00`) / 1000);
  /* global uPlot */
  const series = { label: t(labelKey), stroke: color, width: 2, spanGaps: false };
  if (bars) Object.assign(series, { fill: color + "99", points: { show: false },
    paths: uPlot.paths.bars({ size: [0.7, 40] }) });
  else Object.assign(series, { points: { show: days.length <= 31 } });
  new uPlot({
    width: Math.max(280, box.clientWidth || 600), height: 180,
    scales: { x: { time: true }, y: bars ? { range: (u, lo, hi) => [0, Math.max(1, hi) * 1.1] } : {} },
    legend: { show: false },
    series: [{}, series], axes: [{}, { label: unit }],
  }, [xs, values], box);
}

function panel(id, titleKey, days, values, opts, summaryText) {
  const box = h("div", { class: "chart", role: "img", "aria-label": `${t(titleKey)}: ${summaryText}` });
  const section = h("section", { "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h`, text: t(titleKey) }),
    h("p", { id, class: "figure-line", text: summaryText }), box);
  return [section, () => (values.some((v) => v != null) ? chart(box, days, values, opts)
    : box.replaceChildren(h("p", { class: "note", text: t("trend_no_data") })))];
}

export async function renderTrends(main, bandId, query) {
  const period = PERIODS.includes(query.get("period")) ? query.get("period") : "week";
  const bands = await api("/bands");
  const band = bands.find((b) => b.band_id === bandId);
  const name = band?.name && band.name !== bandId ? band.name : bandId;
  main.append(heading("trends_title", { name }),
    h("nav", { class: "periods", "aria-label": t("trend_period") }, PERIODS.map((p) =>
      h("a", { href: `#/trends/${encodeURIComponent(bandId)}?period=${p}`, class: "button-link",
        "aria-current": p === period ? "page" : null, text: t(`period_${p}`) }))));
  const tr = await api(`/bands/${encodeURIComponent(bandId)}/trends`, { query: { period } });
  const days = tr.days;
  main.append(h("p", { class: "note", text: t("trend_range", { from: tr.from, to: tr.to, zone: tr.time_zone }) }));
  const steps = days.map((d) => d.steps);
  const resting = days.map((d) => d.resting_hr_bpm);
  const sleepH = days.map((d) => (d.sleep_minutes == null ? null : d.sleep_minutes / 60));
  const hrv = days.map((d) => d.hrv_sdnn_ms);
  const reg = tr.sleep_regularity;
  const sleepAvg = mean(days.map((d) => d.sleep_minutes));
  const panels = [
    panel("trend-steps", "steps", days, steps, { labelKey: "steps", color: "#1b7f3b", bars: true, unit: "" },
      t("trend_avg_steps", { n: number(mean(steps)) })),
    panel("trend-resting", "trend_resting_title", days, resting, { labelKey: "hr_resting", color: "#b3261e", unit: t("bpm") },
      t("trend_avg_bpm", { n: number(mean(resting)) })),
    panel("trend-sleep", "sleep", days, sleepH, { labelKey: "sleep_total", color: "#1a237e", bars: true, unit: "h" },
      `${t("trend_avg_sleep", { d: minutes(sleepAvg) })} ${reg.midpoint_sd_min == null ? t("trend_regularity_none")
        : t("trend_regularity", { sd: number(reg.midpoint_sd_min), n: reg.nights })}`),
    panel("trend-hrv", "hrv", days, hrv, { labelKey: "hrv_sdnn", color: "#7e57c2", unit: "ms" },
      t("trend_avg_hrv", { n: number(mean(hrv)) })),
  ];
  main.append(...panels.map(([section]) => section));
  for (const [, draw] of panels) draw();
  main.append(h("p", {}, h("a", { href: `#/today/${encodeURIComponent(bandId)}`, text: t("back_to_today") })));
}
