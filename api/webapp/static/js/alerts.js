// "Alerts": the list (GET /alerts), updated live from the SSE stream without a reload,
// with acknowledge and resolve.
import { api, alertStream } from "./api.js";
import { h, heading, errorText } from "./dom.js";
import { t, dateTime, label } from "./i18n.js";

const OPEN = new Set(["pending", "dispatched", "acknowledged"]);

function row(alert, names, refresh) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const act = (path, body) => async () => {
    try {
      const updated = await api(`/alerts/${alert.id}/${path}`, { method: "POST", body });
      refresh(updated);
    } catch (e) {
      error.textContent = errorText(e);
      error.hidden = false;
    }
  };
  const who = names.get(alert.band_id) || alert.band_id;
  const actions = [];
  if (alert.state === "dispatched") // during the countdown only the wearer can cancel
    actions.push(h("button", { type: "button", onclick: act("ack", {}), text: t("acknowledge") }));
  if (OPEN.has(alert.state)) {
    const outcome = h("select", { "aria-label": t("outcome") },
      ["ok", "needed_help", "false_alarm"].map((o) => h("option", { value: o, text: t(`outcome_${o}`) })));
    actions.push(outcome, h("button", { type: "button", class: "secondary",
      onclick: () => act("resolve", { outcome: outcome.value })(), text: t("resolve") }));
  }
  return h("li", { "data-alert": alert.id, "data-state": alert.state },
    h("div", { class: "grow" },
      h("strong", { text: `${OPEN.has(alert.state) ? "⚠ " : ""}${label("kind", alert.kind)} — ${who}` }),
      h("div", { class: "badge", text: label("state", alert.state) }),
      h("div", { class: "note", text: dateTime(alert.event_t) })),
    actions, error);
}

export async function renderAlerts(main, signal) {
  const list = h("ul", { class: "plain", "aria-label": t("nav_alerts") });
  const empty = h("p", { text: t("no_alerts") });
  const live = h("p", { class: "note", role: "status", text: t("live_connecting") });
  main.append(heading("alerts_title"), live, list, empty);
  const [alerts, bands] = await Promise.all([api("/alerts", { query: { limit: 200 } }), api("/bands")]);
  const names = new Map(bands.map((b) => [b.band_id, b.name && b.name !== b.band_id ? b.name : b.band_id]));
  const byId = new Map(alerts.map((a) => [a.id, a]));
  const draw = () => {
    const sorted = [...byId.values()].sort((a, b) => b.id - a.id);
    list.replaceChildren(...sorted.map((a) => row(a, names, upsert)));
    empty.hidden = sorted.length > 0;
  };
  function upsert(a) {
    const known = byId.get(a.id);
    byId.set(a.id, { ...known, ...a });
    draw();
  }
  draw();
  const catchUp = async () => {
    for (const a of await api("/alerts", { query: { limit: 200 } })) byId.set(a.id, a);
    draw();
    live.textContent = t("live_on");
  };
  alertStream((event) => {
    const isNew = !byId.has(event.id);
    upsert(event);
    if (isNew) document.getElementById("live").textContent =
      t("new_alert_announce", { kind: label("kind", event.kind), who: names.get(event.band_id) || event.band_id });
  }, signal, catchUp);
}
