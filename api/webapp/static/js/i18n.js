// Every visible string comes from a small JSON dictionary per language (i18n/*.json).
// The language follows the browser (navigator.language) until the user picks one.

export const LANGS = ["en", "zh-CN"];
const PICKED = "bandhub.lang";
let dict = {};
let lang = "en";

export function preferred() {
  const picked = localStorage.getItem(PICKED);
  if (LANGS.includes(picked)) return picked;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export async function load(code, remember = false) {
  const r = await fetch(`i18n/${code}.json`);
  dict = await r.json();
  lang = code;
  if (remember) localStorage.setItem(PICKED, code);
  document.documentElement.lang = code;
  translate(document);
}

export const current = () => lang;

/** The string for `key`, with {name} placeholders filled; the key itself if missing. */
export function t(key, vars = {}) {
  const s = dict[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : `{${k}}`));
}

/** Fill static markup: data-i18n (text), data-i18n-aria-label, data-i18n-placeholder. */
export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]"))
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-placeholder]"))
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

/** The time of day (hours and minutes), in `zone` (the wearer's) or the browser's. */
export function clock(iso, zone) {
  const opts = { hour: "2-digit", minute: "2-digit" };
  if (zone) opts.timeZone = zone;
  return iso ? new Date(iso).toLocaleTimeString(lang, opts) : "—";
}

export function number(n, digits = 0) {
  return n == null ? "—" : Number(n).toLocaleString(lang, { maximumFractionDigits: digits });
}

/** A value's label (e.g. an alert kind): its translation, or the value itself when the
 * API names something newer than this dictionary. */
export function label(prefix, value) {
  const key = `${prefix}_${value}`;
  return key in dict ? dict[key] : value;
}
