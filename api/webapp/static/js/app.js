// The app shell: a hash router (#/wearers, #/today/BH-0001?date=…, #/trends/BH-0001,
// #/challenges, #/alerts,
// #/settings/BH-0001, #/signin, #/signup; ?at=<id> opens a page at a section), the
// language switch and sign-out.
import { tokens, signOut } from "./api.js";
import { h, errorText } from "./dom.js";
import { load, preferred, t, current } from "./i18n.js";
import { renderSignIn, renderSignUp } from "./signin.js";
import { renderWearers } from "./wearers.js";
import { renderToday } from "./today.js";
import { renderAlerts } from "./alerts.js";
import { renderSettings } from "./settings.js";
import { renderChallenges } from "./challenges.js";
import { renderTrends } from "./trends.js";
import { renderSupport } from "./support.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const out = document.getElementById("signout");
const lang = document.getElementById("lang");
let leaving = new AbortController(); // ends the page's live stream when it is left

const PAGES = {
  signin: { title: "signin_title", open: true, render: renderSignIn },
  signup: { title: "signup_title", open: true, render: renderSignUp },
  wearers: { title: "nav_wearers", render: renderWearers },
  today: { title: "nav_today", render: (m, [id], q) => renderToday(m, id, q) },
  alerts: { title: "nav_alerts", render: (m, _a, _q, signal) => renderAlerts(m, signal) },
  settings: { title: "nav_settings", render: (m, [id]) => renderSettings(m, id) },
  challenges: { title: "nav_challenges", render: renderChallenges },
  trends: { title: "nav_trends", render: (m, [id], q) => renderTrends(m, id, q) },
  support: { title: "nav_support", render: (m, [id], q) => renderSupport(m, id, q) },
};

async function route() {
  leaving.abort();
  leaving = new AbortController();
  const [pathPart, queryPart] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...args] = pathPart.split("/").map(decodeURIComponent);
  const signedIn = Boolean(tokens.get());
  let page = PAGES[name];
  if (!page) page = signedIn ? PAGES.wearers : PAGES.signin;
  if (!page.open && !signedIn) page = PAGES.signin;
  nav.hidden = out.hidden = !signedIn;
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${name}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${t(page.title)} · bandhub`;
  // each visit renders into its own view: a slower earlier visit fills a detached one
  const view = document.createElement("div");
  main.replaceChildren(view);
  main.setAttribute("aria-busy", "true");
  try {
    const query = new URLSearchParams(queryPart || "");
    await page.render(view, args, query, leaving.signal);
    // ?at=<id>: open the page at one of its sections (e.g. the firmware update)
    const target = query.get("at") && document.getElementById(query.get("at"));
    if (target) target.scrollIntoView();
  } catch (e) {
    view.append(h("p", { class: "error", role: "alert", text: errorText(e) }));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

lang.addEventListener("change", async () => {
  await load(lang.value, true);
  route();
});
out.addEventListener("click", async () => {
  await signOut();
  location.hash = "#/signin";
});
window.addEventListener("bandhub:signed-out", () => { tokens.clear(); location.hash = "#/signin"; });
window.addEventListener("hashchange", route);

await load(preferred());
lang.value = current();
route();
