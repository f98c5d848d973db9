// "Today" for one wearer: the daily summary of a UTC day (GET /bands/{id}/summary) and
// the day's heart rate (GET /bands/{id}/hr) drawn with uPlot.
import { api } from "./api.js";
import { h, heading } from "./dom.js";
import { t, number } from "./i18n.js";

const todayUtc = () => new Date().toISOString().slice(0, 10);

function figure(id, labelKey, value) {
  return h("div", {}, h("dt", { text: t(labelKey) }), h("dd", { id, text: value }));
}

function minutes(m) {
  return m == null ? "—" : t("hours_minutes", { h: Math.floor(m / 60), m: Math.round(m % 60) });
}

function chart(el, points) {
  if (!points.length) return el.replaceChildren(h("p", { text: t("no_hr_data") }));
  const xs = points.map((p) => new Date(p.t).getTime() / 1000);
  const width = Math.max(280, el.clientWidth || 600);
  /* global uPlot */
  new uPlot({
    width, height: 220, title: t("hr_chart_title"),
    scales: { x: { time: true } },
    series: [{}, { label: t("hr_avg"), stroke: "#b3261e", width: 2 },
      { label: t("hr_min"), stroke: "#0b57d0", dash: [4, 4] },
      { label: t("hr_max"), stroke: "#a15c00", dash: [2, 6] }],
    axes: [{}, { label: t("bpm") }],
  }, [xs, points.map((p) => p.bpm), points.map((p) => p.min), points.map((p) => p.max)], el);
}

export async function renderToday(main, bandId, query) {
  const date = query.get("date") || todayUtc();
  const bands = await api("/bands");
  const band = bands.find((b) => b.band_id === bandId);
  const name = band?.name && band.name !== bandId ? band.name : bandId;
  const picker = h("input", { id: "day", type: "date", value: date, max: todayUtc() });
  picker.addEventListener("change", () => {
    if (picker.value) location.hash = `#/today/${encodeURIComponent(bandId)}?date=${picker.value}`;
  });
  main.append(heading("today_title", { name }),
    h("label", { for: "day", text: t("day_utc") }), picker);
  if (band && !band.scopes.includes("summaries")) {
    return main.append(h("p", { text: t("no_summaries_scope") }));
  }
  const next = new Date(Date.parse(date) + 86400e3).toISOString().slice(0, 10);
  const [s, hr] = await Promise.all([
    api(`/bands/${encodeURIComponent(bandId)}/summary`, { query: { date } }),
    api(`/bands/${encodeURIComponent(bandId)}/hr`, { query: { start: `${date}T00:00:00Z`, end: `${next}T00:00:00Z`, resolution: "5m" } }),
  ]);
  const hrv = s.hrv;
  const stages = s.sleep.stages_estimate_min || {};
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": t("hr_chart_label", { n: hr.points.length }) });
  main.append(
    h("section", { "aria-labelledby": "activity-h" }, h("h2", { id: "activity-h", text: t("activity") }),
      h("dl", { class: "figures" },
        figure("steps", "steps", number(s.steps)),
        figure("coverage", "coverage", `${number(s.coverage * 100)} %`),
        figure("falls", "falls", number(s.falls)))),
    h("section", { "aria-labelledby": "hr-h" }, h("h2", { id: "hr-h", text: t("heart_rate") }),
      h("dl", { class: "figures" },
        figure("hr-min", "hr_min", number(s.heart_rate.min)),
        figure("hr-avg", "hr_avg", number(s.heart_rate.avg, 1)),
        figure("hr-max", "hr_max", number(s.heart_rate.max)),
        figure("hr-resting", "hr_resting", number(s.heart_rate.resting))),
      h("p", { class: "note", text: t("bpm_unit") }), chartBox),
    h("section", { "aria-labelledby": "sleep-h" }, h("h2", { id: "sleep-h", text: t("sleep") }),
      h("dl", { class: "figures" },
        figure("sleep-total", "sleep_total", minutes(s.sleep.minutes)),
        figure("sleep-efficiency", "sleep_efficiency", s.sleep.efficiency == null ? "—" : `${number(s.sleep.efficiency * 100)} %`),
        figure("sleep-waso", "sleep_waso", minutes(s.sleep.waso_min)),
        figure("sleep-awakenings", "sleep_awakenings", number(s.sleep.awakenings))),
      h("h3", { text: t("sleep_stages_estimate") }),
      h("p", { class: "note", text: t("sleep_stages_note") }),
      h("dl", { class: "figures" }, ["deep", "light", "rem"].map((k) =>
        figure(`stage-${k}`, `stage_${k}`, minutes(stages[k] ?? null))))),
    h("section", { "aria-labelledby": "hrv-h" }, h("h2", { id: "hrv-h", text: t("hrv") }),
      hrv ? h("dl", { class: "figures" },
        figure("hrv-rmssd", "hrv_rmssd", `${number(hrv.rmssd_ms)} ms`),
        figure("hrv-sdnn", "hrv_sdnn", `${number(hrv.sdnn_ms)} ms`),
        figure("hrv-period", "hrv_period", t(`hrv_period_${hrv.period}`)))
        : h("p", { text: t("hrv_none") })),
  );
  chart(chartBox, hr.points);
  if (band?.scopes.includes("settings") || band?.role === "owner")
    main.append(h("p", {}, h("a", { href: `#/settings/${encodeURIComponent(bandId)}`, text: t("open_settings") })));
}
