// "Today" for one wearer: the summary of a local day (GET /bands/{id}/summary) with
// what the wearer's profile gives (distance, energy, heart-rate zones, goals), the day's
// heart rate (GET /bands/{id}/hr) drawn with uPlot over the zones, and the night as a
// hypnogram with a sleep advice line.
import { api } from "./api.js";
import { h, heading } from "./dom.js";
import { t, number, clock, current } from "./i18n.js";
import { hypnogram } from "./hypnogram.js";
import { sleepAdvice } from "./advice.js";

const todayLocal = () => new Date(Date.now() + 86400e3).toISOString().slice(0, 10); // any zone's today
// zone colours (ColorBrewer YlOrRd), each zone also named in text beside its bar
export const ZONE_FILL = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];

/** "Firmware update 1.1.0 is available", linking to where it is chosen or shown. */
async function firmwareBanner(el, bandId, settingsLink) {
  try {
    const fw = await api(`/bands/${encodeURIComponent(bandId)}/firmware`, { query: { lang: current() } });
    if (!fw.available) return;
    const to = settingsLink || `#/support/${encodeURIComponent(bandId)}`;
    el.replaceChildren(t("fw_banner", { version: fw.available.version }), " ",
      h("a", { href: `${to}?at=fw-h`, text: t("fw_banner_open") }));
    el.hidden = false;
  } catch {
    // like the streaks, a bonus: Today stands without it
  }
}

function figure(id, labelKey, value) {
  return h("div", {}, h("dt", { text: t(labelKey) }), h("dd", { id, text: value }));
}

export function minutes(m) {
  return m == null ? "—" : t("hours_minutes", { h: Math.floor(m / 60), m: Math.round(m % 60) });
}

function chart(el, points, zones, timeZone) {
  if (!points.length) return el.replaceChildren(h("p", { text: t("no_hr_data") }));
  const xs = points.map((p) => new Date(p.t).getTime() / 1000);
  const width = Math.max(280, el.clientWidth || 600);
  // the zones as bands behind the lines: drawn before the series, clipped to the plot
  const drawZones = (u) => {
    if (!zones) return;
    const { ctx, bbox } = u;
    ctx.save();
    ctx.globalAlpha = 0.35;
    zones.zones.forEach((z, i) => {
      const top = u.valToPos(z.high_bpm ?? zones.max_bpm + 40, "y", true);
      const bottom = u.valToPos(z.low_bpm, "y", true);
      const y0 = Math.max(bbox.top, top), y1 = Math.min(bbox.top + bbox.height, bottom);
      if (y1 <= y0) return;
      ctx.fillStyle = ZONE_FILL[i];
      ctx.fillRect(bbox.left, y0, bbox.width, y1 - y0);
    });
    ctx.restore();
  };
  /* global uPlot */
  new uPlot({
    width, height: 240, title: t("hr_chart_title"),
    scales: { x: { time: true } },
    series: [{}, { label: t("hr_avg"), stroke: "#b3261e", width: 2 },
      { label: t("hr_min"), stroke: "#0b57d0", dash: [4, 4] },
      { label: t("hr_max"), stroke: "#6b3e00", dash: [2, 6] }],
    axes: [{}, { label: t("bpm") }],
    hooks: { drawClear: [drawZones] },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), timeZone), // the wearer's clock
  }, [xs, points.map((p) => p.bpm), points.map((p) => p.min), points.map((p) => p.max)], el);
}

/** Time in each heart-rate zone as labelled bars: the text says what the bar shows. */
function zoneBars(zones) {
  const total = Math.max(1, ...zones.zones.map((z) => z.minutes));
  return h("ul", { class: "bars", id: "hr-zones", "aria-label": t("hr_zones_title") },
    zones.zones.map((z, i) => h("li", { "data-zone": z.zone },
      h("span", { class: "bar-label", text: t("hr_zone_label", { n: z.zone, range: z.high_bpm == null
        ? `≥ ${z.low_bpm}` : `${z.low_bpm}–${z.high_bpm - 1}` }) }),
      h("span", { class: "bar-track" }, h("span", { class: "bar-fill",
        style: `width:${(100 * z.minutes) / total}%;background:${ZONE_FILL[i]}` })),
      h("span", { class: "bar-value", text: minutes(z.minutes) }))));
}

function goalLine(id, labelKey, value, goal, met, format) {
  return h("div", { class: "goal" },
    h("label", { for: id, text: t(labelKey, { value: format(value), goal: format(goal) }) }),
    h("progress", { id, max: goal, value: Math.min(value, goal) }),
    h("span", { class: met ? "met" : "note", text: met ? t("goal_met") : t("goal_not_met") }));
}

export async function renderToday(main, bandId, query) {
  const bands = await api("/bands");
  const band = bands.find((b) => b.band_id === bandId);
  const name = band?.name && band.name !== bandId ? band.name : bandId;
  const picker = h("input", { id: "day", type: "date", value: query.get("date") || "", max: todayLocal() });
  picker.addEventListener("change", () => {
    if (picker.value) location.hash = `#/today/${encodeURIComponent(bandId)}?date=${picker.value}`;
  });
  const zoneNote = h("p", { class: "note" });
  main.append(heading("today_title", { name }),
    h("label", { for: "day", text: t("day_local") }), picker, zoneNote);
  const supportLink = band?.scopes.includes("diagnostics")
    ? h("p", {}, h("a", { href: `#/support/${encodeURIComponent(bandId)}`, text: t("open_support") })) : null;
  if (band && !band.scopes.includes("summaries")) {
    return main.append(h("p", { text: t("no_summaries_scope") }), supportLink);
  }
  const canSet = band?.scopes.includes("settings");
  const settingsLink = canSet ? `#/settings/${encodeURIComponent(bandId)}` : null;
  // without a date the API answers the wearer's local today; the day's bounds (local
  // midnight to midnight, in the wearer's zone) then frame the heart-rate series
  const date = query.get("date");
  const s = await api(`/bands/${encodeURIComponent(bandId)}/summary`, { query: date ? { date } : {} });
  picker.value = s.date;
  zoneNote.textContent = t("day_zone_note", { zone: s.time_zone });
  const streakLine = h("p", { id: "streaks", class: "note" });
  const firmwareNote = h("p", { id: "fw-banner", class: "banner", hidden: true });
  const [hr] = await Promise.all([
    api(`/bands/${encodeURIComponent(bandId)}/hr`, { query: { start: s.start, end: s.end, resolution: "5m" } }),
    api(`/bands/${encodeURIComponent(bandId)}/streaks`).then((k) => {
      streakLine.textContent = `${t("streak_steps", { n: k.steps.current, best: k.steps.best })} ${
        t("streak_sleep", { n: k.sleep.current, best: k.sleep.best })}`;
    }).catch(() => {}), // the streaks are a bonus: Today stands without them
    band?.scopes.includes("diagnostics") ? firmwareBanner(firmwareNote, bandId, settingsLink) : null,
  ]);
  const hrv = s.hrv;
  const a = s.activity;
  const stages = s.sleep.stages_estimate_min || {};
  const chartBox = h("div", { class: "chart", role: "img", "aria-label": t("hr_chart_label", { n: hr.points.length }) });
  const needsProfile = a.distance_m == null || a.total_kcal == null || s.hr_zones == null;
  const km = (m) => (m == null ? "—" : `${number(m / 1000, 2)} km`);
  main.append(firmwareNote,
    h("section", { "aria-labelledby": "goals-h" }, h("h2", { id: "goals-h", text: t("goals_title") }),
      goalLine("goal-steps", "goal_steps", s.steps, s.goals.steps, s.goals.steps_met, number),
      goalLine("goal-sleep", "goal_sleep", s.sleep.minutes, s.goals.sleep_min, s.goals.sleep_met, minutes),
      streakLine),
    h("section", { "aria-labelledby": "activity-h" }, h("h2", { id: "activity-h", text: t("activity") }),
      h("dl", { class: "figures" },
        figure("steps", "steps", number(s.steps)),
        figure("distance", "distance", km(a.distance_m)),
        figure("active-minutes", "active_minutes", number(a.active_minutes)),
        figure("calories", "calories", a.total_kcal == null ? "—" : `${number(a.total_kcal)} kcal`),
        figure("active-calories", "active_calories", a.active_kcal == null ? "—" : `${number(a.active_kcal)} kcal`),
        figure("coverage", "coverage", `${number(s.coverage * 100)} %`),
        figure("falls", "falls", number(s.falls))),
      needsProfile ? h("p", { class: "note", id: "profile-hint" }, t("profile_missing"), " ",
        settingsLink ? h("a", { href: settingsLink, text: t("profile_add") }) : null) : null,
      h("p", { class: "note", text: t("activity_note") })),
    h("section", { "aria-labelledby": "hr-h" }, h("h2", { id: "hr-h", text: t("heart_rate") }),
      h("dl", { class: "figures" },
        figure("hr-min", "hr_min", number(s.heart_rate.min)),
        figure("hr-avg", "hr_avg", number(s.heart_rate.avg, 1)),
        figure("hr-max", "hr_max", number(s.heart_rate.max)),
        figure("hr-resting", "hr_resting", number(s.heart_rate.resting))),
      h("p", { class: "note", text: t("bpm_unit") }), chartBox,
      s.hr_zones ? [h("h3", { text: t("hr_zones_title") }),
        h("p", { class: "note", text: t("hr_zones_note", { max: s.hr_zones.max_bpm }) }),
        zoneBars(s.hr_zones)] : null),
    h("section", { "aria-labelledby": "sleep-h" }, h("h2", { id: "sleep-h", text: t("sleep") }),
      h("p", { id: "sleep-advice", class: "advice", text: sleepAdvice(s) }),
      h("dl", { class: "figures" },
        figure("sleep-total", "sleep_total", minutes(s.sleep.minutes)),
        figure("sleep-window", "sleep_window", s.sleep.start
          ? `${clock(s.sleep.start, s.time_zone)}–${clock(s.sleep.end, s.time_zone)}` : "—"),
        figure("sleep-efficiency", "sleep_efficiency", s.sleep.efficiency == null ? "—" : `${number(s.sleep.efficiency * 100)} %`),
        figure("sleep-waso", "sleep_waso", minutes(s.sleep.waso_min)),
        figure("sleep-awakenings", "sleep_awakenings", number(s.sleep.awakenings))),
      h("h3", { text: t("sleep_stages_estimate") }),
      h("p", { class: "note", text: t("sleep_stages_note") }),
      hypnogram(s.sleep.hypnogram || [], s.time_zone),
      h("dl", { class: "figures" }, ["deep", "light", "rem"].map((k) =>
        figure(`stage-${k}`, `stage_${k}`, minutes(stages[k] ?? null))))),
    h("section", { "aria-labelledby": "hrv-h" }, h("h2", { id: "hrv-h", text: t("hrv") }),
      hrv ? h("dl", { class: "figures" },
        figure("hrv-rmssd", "hrv_rmssd", `${number(hrv.rmssd_ms)} ms`),
        figure("hrv-sdnn", "hrv_sdnn", `${number(hrv.sdnn_ms)} ms`),
        figure("hrv-period", "hrv_period", t(`hrv_period_${hrv.period}`)))
        : h("p", { text: t("hrv_none") })),
  );
  chart(chartBox, hr.points, s.hr_zones, s.time_zone);
  // the week's regularity completes the advice when it arrives
  api(`/bands/${encodeURIComponent(bandId)}/trends`, { query: { period: "week", end: s.date } })
    .then((w) => { main.querySelector("#sleep-advice").textContent = sleepAdvice(s, w.sleep_regularity); })
    .catch(() => {});
  main.append(h("p", {}, h("a", { href: `#/trends/${encodeURIComponent(bandId)}`, text: t("open_trends") })));
  if (settingsLink) main.append(h("p", {}, h("a", { href: settingsLink, text: t("open_settings") })));
  if (supportLink) main.append(supportLink);
}
