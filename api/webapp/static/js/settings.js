// "Settings" for one wearer: time zone and fall countdown, emergency contacts (add,
// delete, test alert), sharing (invite, revoke), Home Assistant, firmware updates and
// "find my band".
import { api } from "./api.js";
import { firmwareSection } from "./firmware.js";
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
  const current = await api(path(bandId)); // GET /bands/{id}: settings, profile, goals
  main.append(wearerSection(bandId, current), profileSection(bandId, current),
    await contactsSection(bandId));
  if (band.scopes.includes("owner"))
    main.append(await sharingSection(bandId), await homeAssistantSection(bandId));
  main.append(bandActionsSection(bandId), await firmwareSection(bandId, true), findSection(bandId));
}

function wearerSection(id, current) {
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
    h("label", {}, h("input", { type: "checkbox", name: "sedentary_reminder",
      checked: current.sedentary_reminder }), ` ${t("sedentary_reminder")}`),
  ], "save", async (el) => {
    const cd = el.countdown.value === "" ? null : Number(el.countdown.value);
    const name = el.wearer_name.value.trim() || null; // empty: unchanged
    await api(path(id), { method: "PATCH", body: { name, time_zone: zone.value, fall_countdown_s: cd,
      sedentary_reminder: el.sedentary_reminder.checked } });
    saved.textContent = t("saved");
  });
  return h("section", { "aria-labelledby": "wearer-h" }, h("h2", { id: "wearer-h", text: t("wearer_title") }), f, saved);
}

/** Height, weight, birth year and sex (what the summary derives from), and the goals. */
function profileSection(id, current) {
  const saved = status();
  const num = (v) => (v === "" ? null : Number(v));
  const sex = h("select", { id: "sex", name: "sex" },
    ["", "female", "male"].map((v) => h("option", { value: v, selected: (current.sex ?? "") === v,
      text: t(v ? `sex_${v}` : "sex_unset") })));
  const year = new Date().getFullYear();
  const f = form("profile_title", [
    h("p", { class: "note", text: t("profile_note") }),
    ...field("height_cm", "height_cm", { type: "number", min: 50, max: 250, step: 1, value: current.height_cm ?? "", inputmode: "numeric" }),
    ...field("weight_kg", "weight_kg", { type: "number", min: 10, max: 400, step: 0.1, value: current.weight_kg ?? "", inputmode: "decimal" }),
    ...field("birth_year", "birth_year", { type: "number", min: 1900, max: year, step: 1, value: current.birth_year ?? "", inputmode: "numeric" }),
    h("label", { for: "sex", text: t("sex") }), sex,
    ...field("step_goal", "step_goal", { type: "number", min: 100, max: 100000, step: 100, value: current.step_goal ?? "", inputmode: "numeric" }),
    ...field("sleep_goal_h", "sleep_goal_h", { type: "number", min: 1, max: 16, step: 0.25, value: current.sleep_goal_min == null ? "" : current.sleep_goal_min / 60, inputmode: "decimal" }),
    h("p", { class: "note", text: t("goal_default_note") }),
  ], "save", async (el) => {
    const sleepH = num(el.sleep_goal_h.value);
    await api(path(id), { method: "PATCH", body: {
      height_cm: num(el.height_cm.value), weight_kg: num(el.weight_kg.value),
      birth_year: num(el.birth_year.value), sex: sex.value || null,
      step_goal: num(el.step_goal.value), sleep_goal_min: sleepH == null ? null : Math.round(sleepH * 60),
    } });
    saved.textContent = t("saved");
  });
  return h("section", { "aria-labelledby": "profile-h" }, h("h2", { id: "profile-h", text: t("profile_title") }), f, saved);
}

async function contactsSection(id) {
  const box = h("section", { "aria-labelledby": "contacts-h" });
  const out = status();
  // the order is who is alerted first: moving one swaps the two positions
  const swap = async (contacts, i, j) => {
    try {
      const [a, b] = [contacts[i], contacts[j]];
      const [pa, pb] = a.position === b.position ? [j, i] : [b.position, a.position];
      await api(path(id, `/contacts/${a.id}`), { method: "PATCH", body: { position: pa } });
      await api(path(id, `/contacts/${b.id}`), { method: "PATCH", body: { position: pb } });
      await draw();
      out.textContent = t("contacts_reordered");
    } catch (e) {
      out.textContent = errorText(e);
    }
  };
  const draw = async () => {
    const contacts = await api(path(id, "/contacts"));
    const channel = h("select", { id: "contact_channel", name: "contact_channel" },
      h("option", { value: "email", text: t("channel_email") }), h("option", { value: "webhook", text: t("channel_webhook") }));
    box.replaceChildren(h("h2", { id: "contacts-h", text: t("contacts_title") }),
      contacts.length ? h("ol", { class: "plain" }, contacts.map((c, i) => h("li", { "data-contact": c.id },
        h("span", { class: "grow", text: `${i + 1}. ${c.name} — ${c.address}${c.opted_out_at ? ` (${t("opted_out")})` : ""}${
          c.quiet_start ? ` · ${t("quiet_hours_are", { from: c.quiet_start.slice(0, 5), to: c.quiet_end.slice(0, 5) })}` : ""}` }),
        i > 0 ? h("button", { type: "button", class: "secondary", "aria-label": t("move_up", { name: c.name }),
          text: "↑", onclick: () => swap(contacts, i, i - 1) }) : null,
        i < contacts.length - 1 ? h("button", { type: "button", class: "secondary", "aria-label": t("move_down", { name: c.name }),
          text: "↓", onclick: () => swap(contacts, i, i + 1) }) : null,
        quietHoursEditor(id, c, out, draw),
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
        h("fieldset", {}, h("legend", { text: t("quiet_hours") }),
          h("p", { class: "note", text: t("quiet_hours_note") }),
          ...field("quiet_start", "quiet_from", { type: "time" }),
          ...field("quiet_end", "quiet_to", { type: "time" })),
      ], "contact_add", async (f) => {
        const body = { name: f.contact_name.value, channel: channel.value,
          position: contacts.length ? Math.max(...contacts.map((c) => c.position)) + 1 : 0 };
        if (f.quiet_start.value && f.quiet_end.value)
          Object.assign(body, { quiet_start: f.quiet_start.value, quiet_end: f.quiet_end.value });
        if (channel.value === "email") body.email = f.contact_address.value;
        else Object.assign(body, { url: f.contact_address.value, secret: f.contact_secret.value });
        await api(path(id, "/contacts"), { method: "POST", body });
        await draw();
      }), out);
  };
  await draw();
  return box;
}

/** A contact's quiet hours, changed in place: both times, or both empty for none. */
function quietHoursEditor(id, c, out, redraw) {
  const from = `quiet_start_${c.id}`, to = `quiet_end_${c.id}`;
  const f = h("form", { "aria-label": t("quiet_hours_of", { name: c.name }) },
    h("label", { for: from, text: t("quiet_from") }),
    h("input", { id: from, type: "time", value: c.quiet_start?.slice(0, 5) ?? "" }),
    h("label", { for: to, text: t("quiet_to") }),
    h("input", { id: to, type: "time", value: c.quiet_end?.slice(0, 5) ?? "" }),
    h("p", { class: "note", text: t("quiet_hours_clear_note") }),
    h("button", { type: "submit", text: t("save") }));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const [start, end] = [f.elements[from].value, f.elements[to].value];
    if (Boolean(start) !== Boolean(end)) return void (out.textContent = t("quiet_hours_both"));
    try {
      await api(path(id, `/contacts/${c.id}`), { method: "PATCH",
        body: { quiet_start: start || null, quiet_end: end || null } });
      await redraw();
      out.textContent = t("quiet_hours_saved", { name: c.name });
    } catch (err) {
      out.textContent = errorText(err);
    }
  });
  return h("details", { class: "quiet" }, h("summary", { text: t("quiet_hours_change") }), f);
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

/** Reaching the wearer through the band: a short reminder on its screen, and alarms
 * (set in the wearer's local time; the API turns it into the band's UTC clock). */
function bandActionsSection(id) {
  const out = status();
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const reminder = form("reminder_title", [
    ...field("reminder_text", "reminder_text", { required: true, maxlength: 18 }),
    h("p", { class: "note", text: t("reminder_note") }),
  ], "reminder_send", async (f) => {
    const sent = await api(path(id, "/commands"), { method: "POST", body: { cmd: "message", args: { text: f.reminder_text.value } } });
    out.textContent = t("command_sent", { when: dateTime(new Date().toISOString()), id: sent.id });
  });
  const alarm = form("alarm_title", [
    ...field("alarm_slot", "alarm_slot", { type: "number", min: 1, max: 8, value: 1, required: true }),
    ...field("alarm_time", "alarm_time", { type: "time", required: true, value: "07:30" }),
    h("fieldset", {}, h("legend", { text: t("alarm_days") }), days.map((d) =>
      h("label", {}, h("input", { type: "checkbox", name: "alarm_day", value: d, checked: true }), t(`day_${d}`)))),
    h("label", {}, h("input", { type: "checkbox", name: "alarm_off", id: "alarm_off" }), t("alarm_off")),
  ], "alarm_set", async (f) => {
    const slot = Number(f.alarm_slot.value) - 1;
    const args = f.alarm_off.checked ? { slot, off: true } : { slot, time: f.alarm_time.value,
      days: [...f.querySelectorAll("input[name=alarm_day]:checked")].map((i) => i.value) };
    const sent = await api(path(id, "/commands"), { method: "POST", body: { cmd: "set_alarm", args } });
    out.textContent = t("command_sent", { when: dateTime(new Date().toISOString()), id: sent.id });
  });
  return h("section", { "aria-labelledby": "band-actions-h" },
    h("h2", { id: "band-actions-h", text: t("band_actions_title") }), reminder, alarm,
    out);
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
