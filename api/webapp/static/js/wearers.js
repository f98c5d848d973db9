// "My wearers": every band the user may see as a status tile, worst news first (the
// list answers each band's latest battery level), plus
// claiming a band with the code from its box and accepting an invitation.
import { api } from "./api.js";
import { h, field, form, heading } from "./dom.js";
import { t, dateTime } from "./i18n.js";

const SILENT_MS = 4 * 3600e3; // the server's default BANDHUB_BAND_SILENT_H
const LOW_BATTERY = 15; // the server's default BANDHUB_LOW_BATTERY_PERCENT
const OPEN = new Set(["pending", "dispatched", "acknowledged"]);
const RANK = { alert: 0, silent: 1, battery: 2, ok: 3 };

export function status(band, openAlerts, battery) {
  if (openAlerts.has(band.band_id)) return "alert";
  if (!band.last_seen || Date.now() - new Date(band.last_seen) > SILENT_MS) return "silent";
  if (battery != null && battery <= LOW_BATTERY) return "battery";
  return "ok";
}

function tile(band, state, battery) {
  const label = band.name && band.name !== band.band_id ? band.name : band.band_id;
  return h("li", { class: `tile status-${state}`, "data-band": band.band_id },
    h("a", { href: band.scopes.includes("summaries") ? `#/today/${encodeURIComponent(band.band_id)}`
      : `#/support/${encodeURIComponent(band.band_id)}` }, // support staff see no health data
      h("div", { class: "name", text: label }),
      h("div", { class: "status", text: `${t("symbol_" + state)} ${t("status_" + state)}` }),
      h("div", { class: "note", text: t("last_seen", { when: dateTime(band.last_seen) }) }),
      battery != null ? h("div", { class: "note", text: t("battery_level", { level: battery }) }) : null,
    ));
}

export async function renderWearers(main) {
  const list = h("ul", { class: "grid", "aria-label": t("nav_wearers") });
  const summary = h("p", { class: "note", role: "status" });
  main.append(heading("wearers_title"), summary, list);
  const [bands, alerts] = await Promise.all([api("/bands"), api("/alerts", { query: { limit: 500 } })]);
  const open = new Set(alerts.filter((a) => OPEN.has(a.state)).map((a) => a.band_id));
  // each band's latest battery level comes with the list (GET /bands): one request
  const levels = new Map(bands.map((b) => [b.band_id, b.battery_percent]));
  const rows = bands.map((b) => [b, status(b, open, levels.get(b.band_id))]);
  rows.sort((x, y) => RANK[x[1]] - RANK[y[1]] || x[0].band_id.localeCompare(y[0].band_id));
  list.replaceChildren(...rows.map(([b, s]) => tile(b, s, levels.get(b.band_id))));
  const counts = {};
  for (const [, s] of rows) counts[s] = (counts[s] || 0) + 1;
  summary.textContent = t("wearers_count", { n: bands.length, alerts: counts.alert || 0 });
  if (!bands.length) list.replaceWith(h("p", { text: t("no_wearers") }));
  main.append(claimForm(), acceptForm());
}

function claimForm() {
  return h("section", { "aria-labelledby": "claim-h" },
    h("h2", { id: "claim-h", text: t("claim_title") }),
    form("claim_title", [
      field("claim_band", "band_id", { required: true, placeholder: "BH-0001", pattern: "BH-[0-9]{4,}" }),
      field("claim_code", "claim_code", { required: true, autocomplete: "off" }),
      field("claim_name", "wearer_name", {}),
    ], "claim_submit", async (f) => {
      const id = f.claim_band.value.trim();
      const body = { claim_code: f.claim_code.value.trim() };
      if (f.claim_name.value.trim()) body.name = f.claim_name.value.trim();
      await api(`/bands/${encodeURIComponent(id)}/claim`, { method: "POST", body });
      location.hash = `#/today/${encodeURIComponent(id)}`;
    }));
}

function acceptForm() {
  return h("section", { "aria-labelledby": "accept-h" },
    h("h2", { id: "accept-h", text: t("accept_title") }),
    form("accept_title", [field("invite_code", "invite_code", { required: true, autocomplete: "off" })],
      "accept_submit", async (f) => {
        const share = await api("/invitations/accept", { method: "POST", body: { token: f.invite_code.value.trim() } });
        location.hash = `#/today/${encodeURIComponent(share.band_id)}`;
      }));
}
