// "Support" for one band (diagnostics scope: bandhub support, the owner, carers): the
// link as the gateway last reported it (GET /bands/{id}/diagnostics) with its history,
// firmware and clock drift, the firmware update on offer or under way, and the battery
// curve. No health data is on this page.
import { api } from "./api.js";
import { firmwareSection } from "./firmware.js";
import { h, heading } from "./dom.js";
import { t, dateTime, number } from "./i18n.js";

function figure(id, labelKey, value) {
  return h("div", {}, h("dt", { text: t(labelKey) }), h("dd", { id, text: value ?? "—" }));
}

export async function renderSupport(main, bandId, query) {
  const days = Number(query.get("days")) || 7;
  const d = await api(`/bands/${encodeURIComponent(bandId)}/diagnostics`, { query: { days } });
  const link = d.link || {};
  const drift = link.clock_offset_s;
  main.append(heading("support_title", { id: bandId }),
    h("section", { "aria-labelledby": "link-h" }, h("h2", { id: "link-h", text: t("support_link") }),
      h("dl", { class: "figures" },
        figure("diag-last-seen", "support_last_seen", dateTime(d.last_seen)),
        figure("diag-gateway", "support_gateway", d.gateway),
        figure("diag-connected", "support_connected", link.connected == null ? null
          : t(link.connected ? "support_yes" : "support_no")),
        figure("diag-firmware", "support_firmware", link.firmware),
        figure("diag-drift", "support_clock_drift", drift == null ? null : `${number(drift, 3)} s`),
        figure("diag-rssi", "support_rssi", link.rssi_dbm == null ? null : `${link.rssi_dbm} dBm`),
        figure("diag-backlog", "support_backlog", number(link.backlog)),
        figure("diag-reconnects", "support_reconnects", number(link.reconnects))),
      link.last_error ? h("p", { class: "error", text: link.last_error }) : null,
      h("p", { class: "note", text: t("support_reported", { when: dateTime(d.link_reported_at) }) })),
    h("section", { "aria-labelledby": "history-h" }, h("h2", { id: "history-h", text: t("support_history") }),
      (link.history || []).length ? h("ol", { class: "plain", id: "diag-history" },
        [...link.history].reverse().map((e) => h("li", {},
          h("span", { class: "grow", text: `${dateTime(new Date(e.at * 1000).toISOString())} — ${t(`link_${e.event}`)}` }),
          e.detail ? h("span", { class: "note", text: e.detail }) : null)))
        : h("p", { text: t("support_no_history") })));
  main.append(await firmwareSection(bandId, false));
  const box = h("div", { class: "chart", role: "img", "aria-label": t("battery_chart_label", {
    n: d.battery_hourly.length, last: d.battery_hourly.at(-1)?.level ?? "—" }) });
  main.append(h("section", { "aria-labelledby": "battery-h" },
    h("h2", { id: "battery-h", text: t("support_battery", { days }) }), box));
  if (!d.battery_hourly.length) box.replaceChildren(h("p", { text: t("support_no_battery") }));
  else {
    /* global uPlot */
    new uPlot({ width: Math.max(280, box.clientWidth || 600), height: 200, scales: { x: { time: true }, y: { range: [0, 100] } },
      series: [{}, { label: t("battery"), stroke: "#1b7f3b", width: 2 }], axes: [{}, { label: "%" }] },
    [d.battery_hourly.map((p) => Date.parse(p.t) / 1000), d.battery_hourly.map((p) => p.level)], box);
  }
}
