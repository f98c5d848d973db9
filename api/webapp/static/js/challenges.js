// "Challenges": step challenges among the wearers the user may see (GET/POST
// /bands/{id}/challenges), each with its leaderboard; the rank is written out, so the
// order never rests on position or colour alone.
import { api } from "./api.js";
import { h, field, form, heading } from "./dom.js";
import { t, number } from "./i18n.js";

const path = (id, rest = "") => `/bands/${encodeURIComponent(id)}${rest}`;
const iso = (d) => d.toISOString().slice(0, 10);

function board(c) {
  return h("section", { class: "challenge", "data-challenge": c.id, "aria-labelledby": `ch-${c.id}` },
    h("h2", { id: `ch-${c.id}`, text: c.name }),
    h("p", { class: "note", text: t("challenge_days", { from: c.first_day, to: c.last_day }) }),
    h("ol", { class: "plain leaderboard", "aria-label": t("leaderboard") }, c.leaderboard.map((r) =>
      h("li", { "data-band": r.band_id },
        h("span", { class: "rank", text: t("rank", { n: r.rank }) }),
        h("span", { class: "grow", text: r.name }),
        h("strong", { text: t("steps_n", { n: number(r.steps) }) })))));
}

export async function renderChallenges(main) {
  main.append(heading("challenges_title"), h("p", { class: "note", text: t("challenges_note") }));
  const bands = (await api("/bands")).filter((b) => b.scopes.includes("summaries"));
  if (!bands.length) return main.append(h("p", { text: t("no_wearers") }));
  const seen = new Map();
  for (const b of bands) {
    for (const c of await api(path(b.band_id, "/challenges"))) seen.set(c.id, { ...c, via: b.band_id });
  }
  const list = h("div", {});
  for (const c of [...seen.values()]) list.append(board(await api(path(c.via, `/challenges/${c.id}`))));
  if (!seen.size) list.append(h("p", { id: "no-challenges", text: t("no_challenges") }));
  main.append(list);
  if (bands.length < 2) return main.append(h("p", { class: "note", text: t("challenge_needs_two") }));
  const today = new Date();
  const monday = new Date(today.getTime() - ((today.getDay() + 6) % 7) * 86400e3);
  const boxes = bands.map((b) => h("label", {},
    h("input", { type: "checkbox", name: "member", value: b.band_id, checked: true }), b.name || b.band_id));
  main.append(h("section", { "aria-labelledby": "new-ch-h" },
    h("h2", { id: "new-ch-h", text: t("challenge_new") }),
    form("challenge_new", [
      ...field("ch_name", "challenge_name", { required: true, maxlength: 100, value: t("challenge_default_name") }),
      h("fieldset", {}, h("legend", { text: t("challenge_who") }), boxes),
      ...field("ch_first", "challenge_first", { type: "date", required: true, value: iso(monday) }),
      ...field("ch_last", "challenge_last", { type: "date", required: true, value: iso(new Date(monday.getTime() + 6 * 86400e3)) }),
    ], "challenge_start", async (f) => {
      const members = [...f.querySelectorAll("input[name=member]:checked")].map((i) => i.value);
      if (members.length < 2) throw Object.assign(new Error(t("challenge_needs_two")), { code: "challenge_two" });
      const [first, ...others] = members;
      await api(path(first, "/challenges"), { method: "POST", body: {
        name: f.ch_name.value.trim(), with_bands: others, first_day: f.ch_first.value, last_day: f.ch_last.value } });
      location.hash = "#/challenges?new=" + Date.now(); // draw again
    })));
}
