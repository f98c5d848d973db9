// "Settings" for one wearer: time zone and fall countdown, emergency contacts (add,
// delete, test alert), sharing (invite, revoke), Home Assistant and "find my band".
import { api } from "./api.js";
import { h, field, form, heading, errorText } from "./dom.js";
import { t, dateTime } from "./i18n.js";

const path = (id, rest = "") => `/bands/${encodeURIComponent(id)}${rest}`;

function status() {
  return h("p", { class: "note", role: "status" });
}

function button(key, onclick, cls) {
  return h("button", { type: "button", class: cls, text: t(key), onclick });
}

/** A button whose action reports its outcome (or the API's error) in `out`. */
function action(key, out, run, cls) {
  return button(key, async () => {
    try {
      out.textContent = await run();
    } catch (e) {
      out.textContent = errorText(e);
    }
  }, cls);
}

export async function renderSettings(main, bandId) {
  const bands = await api("/bands");
  const mine = bands.filter((b) => b.scopes.includes("settings"));
  if (!bandId) {
    main.append(heading("settings_title_all"));
    if (!mine.length) return main.append(h("p", { text: t("no_settings_bands") }));
    return main.append(h("ul", { class: "plain" }, mine.map((b) =>
      h("li", {}, h("a", { href: `#/settings/${encodeURIComponent(b.band_id)}`, text: b.name || b.band_id })))));
  }
  const band = bands.find((b) => b.band_id === bandId);
  if (!band || !band.scopes.includes("settings"))
    return main.append(heading("settings_title_all"), h("p", { text: t("no_settings_scope") }));
  main.append(heading("settings_title", { name: band.name || bandId }));
  main.append(await wearerSection(bandId), await contactsSection(bandId));
  if (band.scopes.includes("owner"))
    main.append(await sharingSection(bandId), await homeAssistantSection(bandId));
  main.append(findSection(bandId));
}

async function wearerSection(id) {
  const current = await api(path(id), { method: "PATCH", body: {} }); // an empty change answers the settings
  const saved = status();
  const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [current.time_zone];
  if (!zones.includes(current.time_zone)) zones.unshift(current.time_zone);
  const zone = h("select", { id: "time_zone", name: "time_zone" },
    zones.map((z) => h("option", { value: z, selected: z === current.time_zone, text: z })));
  const f = form("wearer_title", [
    ...field("wearer_name", "wearer_name", { value: current.name }),
    h("label", { for: "time_zone", text: t("time_zone") }), zone,
    ...field("countdown", "fall_countdown", { type: "number", min: 0, max: 600, step: 1,
      value: current.fall_countdown_s ?? "", placeholder: t("server_default") }),
  ], "save", async (el) => {
    const cd = el.countdown.value === "" ? null : Number(el.countdown.value);
    const name = el.wearer_name.value.trim() || null; // empty: unchanged
    await api(path(id), { method: "PATCH", body: { name, time_zone: zone.value, fall_countdown_s: cd } });
    saved.textContent = t("saved");
  });
  return h("section", { "aria-labelledby": "wearer-h" }, h("h2", { id: "wearer-h", text: t("wearer_title") }), f, saved);
}

async function contactsSection(id) {
  const box = h("section", { "aria-labelledby": "contacts-h" });
  const out = status();
  const draw = async () => {
    const contacts = await api(path(id, "/contacts"));
    const channel = h("select", { id: "contact_channel", name: "contact_channel" },
      h("option", { value: "email", text: t("channel_email") }), h("option", { value: "webhook", text: t("channel_webhook") }));
    box.replaceChildren(h("h2", { id: "contacts-h", text: t("contacts_title") }),
      contacts.length ? h("ul", { class: "plain" }, contacts.map((c) => h("li", {},
        h("span", { class: "grow", text: `${c.position + 1}. ${c.name} — ${c.address}${c.opted_out_at ? ` (${t("opted_out")})` : ""}` }),
        action("delete", out, async () => {
          await api(path(id, `/contacts/${c.id}`), { method: "DELETE" });
          await draw();
          return t("contact_deleted");
        }, "danger")))) : h("p", { text: t("no_contacts") }),
      action("test_alert", out, async () => {
        await api(path(id, "/test-alert"), { method: "POST" });
        return t("test_alert_sent");
      }, "secondary"),
      form("contact_add", [
        ...field("contact_name", "contact_name", { required: true }),
        h("label", { for: "contact_channel", text: t("channel") }), channel,
        ...field("contact_address", "contact_address", { required: true }),
        ...field("contact_secret", "contact_secret", { minlength: 16 }),
        h("p", { class: "note", text: t("contact_secret_note") }),
      ], "contact_add", async (f) => {
        const body = { name: f.contact_name.value, channel: channel.value, position: contacts.length };
        if (channel.value === "email") body.email = f.contact_address.value;
        else Object.assign(body, { url: f.contact_address.value, secret: f.contact_secret.value });
        await api(path(id, "/contacts"), { method: "POST", body });
        await draw();
      }), out);
  };
  await draw();
  return box;
}

async function sharingSection(id) {
  const box = h("section", { "aria-labelledby": "sharing-h" });
  const out = status();
  const scopes = ["summaries", "live", "alerts", "settings"];
  const draw = async () => {
    const shares = (await api(path(id, "/shares"))).filter((s) => s.state === "invited" || s.state === "active");
    box.replaceChildren(h("h2", { id: "sharing-h", text: t("sharing_title") }),
      shares.length ? h("ul", { class: "plain" }, shares.map((s) => h("li", {},
        h("span", { class: "grow", text: `${s.email} — ${t("share_" + s.state)} — ${s.scopes.map((x) => t("scope_" + x)).join(", ")}` }),
        action("revoke", out, async () => {
          await api(path(id, `/shares/${s.id}`), { method: "DELETE" });
          await draw();
          return t("share_revoked");
        }, "danger")))) : h("p", { text: t("no_shares") }),
      form("invite_title", [
        ...field("invite_email", "email", { type: "email", required: true }),
        h("fieldset", {}, h("legend", { text: t("scopes") }), scopes.map((s) =>
          h("label", {}, h("input", { type: "checkbox", name: "scope", value: s, checked: s !== "settings" && s !== "live" }), ` ${t("scope_" + s)}`))),
      ], "invite_submit", async (f) => {
        const chosen = [...f.querySelectorAll("input[name=scope]:checked")].map((x) => x.value);
        await api(path(id, "/shares"), { method: "POST", body: { email: f.invite_email.value, scopes: chosen } });
        await draw();
        out.textContent = t("invitation_sent");
      }), out);
  };
  await draw();
  return box;
}

/** The owner's choice to show the band in Home Assistant, and its health values with it. */
async function homeAssistantSection(id) {
  const current = await api(path(id, "/home-assistant"));
  const saved = status();
  const box = (name, key, checked) =>
    h("label", {}, h("input", { type: "checkbox", name, checked }), ` ${t(key)}`);
  const f = form("ha_title", [
    h("p", { class: "note", text: t(current.discovery_enabled ? "ha_note" : "ha_off") }),
    box("ha_exposed", "ha_exposed", current.exposed),
    box("ha_health", "ha_health", current.health),
  ], "ha_apply", async (el) => {
    const exposed = el.ha_exposed.checked;
    const health = exposed && el.ha_health.checked;
    el.ha_health.checked = health;
    await api(path(id, "/home-assistant"), { method: "PUT", body: { exposed, health } });
    saved.textContent = t(exposed ? "ha_shown" : "ha_hidden");
  });
  return h("section", { "aria-labelledby": "ha-h" }, h("h2", { id: "ha-h", text: t("ha_title") }), f, saved);
}

function findSection(id) {
  const out = status();
  return h("section", { "aria-labelledby": "find-h" }, h("h2", { id: "find-h", text: t("find_title") }),
    h("p", { class: "note", text: t("find_note") }),
    action("find_band", out, async () => {
      const sent = await api(path(id, "/commands"), { method: "POST", body: { cmd: "find_band" } });
      return t("command_sent", { when: dateTime(new Date().toISOString()), id: sent.id });
    }), out);
}
