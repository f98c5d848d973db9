// A band's firmware (GET /bands/{id}/firmware): the version it runs, the update on
// offer with its release notes in the reader's language, the update under way, and for
// those who may change the band's settings the choice: now, tonight while it charges,
// at a chosen time, or a reminder in a few days (POST /bands/{id}/firmware/update).
// While an update is under way the section reads it again every few seconds.
import { api } from "./api.js";
import { h, errorText } from "./dom.js";
import { t, current, dateTime, number, label } from "./i18n.js";

const path = (id, rest = "") => `/bands/${encodeURIComponent(id)}/firmware${rest}`;
const POSTPONE_DAYS = 3;
const UNDER_WAY = new Set(["waiting", "transferring", "verifying", "activating"]);
const FOLLOW_MS = 5000; // while an update is under way, the section follows it

/** The offer as one line a person reads: "Update 1.1.0 is available (48 KiB)". */
export function offerLine(fw) {
  return t("fw_available", { version: fw.available.version, size: number(fw.available.size / 1024) });
}

/** The update the gateway reports: its state and how far the image has been sent. */
function progressLine(p) {
  if (!p) return null;
  const sent = p.size ? ` · ${t("fw_sent", { pct: number((100 * (p.offset || 0)) / p.size) })}` : "";
  const resumes = p.resumes ? ` · ${t("fw_resumes", { n: p.resumes })}` : "";
  return h("p", { id: "fw-progress", role: "status" },
    `${t("fw_progress", { version: p.version, state: label("fw_state", p.state) })}${sent}${resumes}`,
    p.detail ? h("span", { class: "note", text: ` — ${p.detail}` }) : null);
}

/** What was chosen for the update on offer ("" before anyone chose). */
function choiceText(choice) {
  if (!choice?.choice) return "";
  if (choice.choice === "postponed") return t("fw_postponed_until", { when: dateTime(choice.postponed_until) });
  return choice.scheduled_for ? t("fw_scheduled_for", { when: dateTime(choice.scheduled_for) }) : t("fw_requested");
}

/** Now / tonight / at a time / later: each asks the API, then redraws the section,
 * whose choice line (a live region) says what was chosen; `out` says what went wrong. */
function choices(bandId, at, out, redraw) {
  const say = (text) => { out.textContent = text; out.hidden = !text; };
  const ask = (body) => async () => {
    try {
      await api(path(bandId, "/update"), { method: "POST", body });
      say("");
      await redraw();
    } catch (e) {
      say(errorText(e));
    }
  };
  const button = (key, onclick, cls) => h("button", { type: "button", class: cls, text: t(key), onclick });
  return h("div", { class: "fw-choices" },
    button("fw_now", ask({ action: "now" })),
    button("fw_tonight", ask({ action: "tonight" }), "secondary"),
    h("label", { for: "fw_at", text: t("fw_at") }), at,
    button("fw_at_submit", async () => {
      if (!at.value) return say(t("fw_at_missing"));
      // the browser's local time, as the person picked it on their own clock
      await ask({ action: "at", at: new Date(at.value).toISOString() })();
    }, "secondary"),
    button("fw_later", ask({ action: "postpone", postpone_days: POSTPONE_DAYS }), "secondary"),
    h("p", { class: "note", text: t("fw_choices_note") }));
}

/** The firmware section; `canChoose` (settings scope) adds the buttons. */
export async function firmwareSection(bandId, canChoose) {
  const box = h("section", { "aria-labelledby": "fw-h" });
  const out = h("p", { class: "error", role: "alert", hidden: true });
  const chosen = h("p", { id: "fw-choice", role: "status" }); // kept across redraws: announced
  const at = h("input", { id: "fw_at", name: "fw_at", type: "datetime-local" }); // and kept typed
  let follow; // the timer that reads an update under way again
  const draw = async () => {
    const fw = await api(path(bandId), { query: { lang: current() } });
    const runs = fw.current ? t("fw_runs", { version: fw.current, model: fw.model || "—" }) : t("fw_unknown");
    const offer = fw.available
      ? [h("p", { id: "fw-offer", class: "offer" }, h("strong", { text: offerLine(fw) })),
        h("h3", { text: t("fw_notes") }),
        h("p", { id: "fw-notes", lang: fw.available.notes_lang, class: "notes", text: fw.available.notes || "—" }),
        chosen, canChoose ? choices(bandId, at, out, draw) : h("p", { class: "note", text: t("fw_owner_decides") })]
      : [h("p", { id: "fw-offer", text: fw.current ? t("fw_up_to_date") : t("fw_no_offer") })];
    chosen.textContent = choiceText(fw.choice);
    const parts = [h("h2", { id: "fw-h", text: t("fw_title") }),
      h("p", { id: "fw-current", text: runs }), ...offer, progressLine(fw.progress), out];
    box.replaceChildren(...parts.filter(Boolean)); // (replaceChildren would write "null")
    const following = UNDER_WAY.has(fw.progress?.state) || fw.choice?.choice === "now";
    clearTimeout(follow); // one follower, however often the section is redrawn
    if (following) follow = setTimeout(() => box.isConnected && draw().catch(() => {}), FOLLOW_MS);
  };
  await draw();
  return box;
}
