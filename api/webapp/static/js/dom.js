// A tiny element builder: h("p", {class: "note"}, "text", child). Text is always set as
// text (never parsed as HTML), so data from the API cannot inject markup.
import { t } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c != null) el.append(c);
  return el;
}

/** A labelled input: the label is tied to the field for screen readers. */
export function field(id, labelKey, attrs = {}) {
  return [h("label", { for: id, text: t(labelKey) }), h("input", { id, name: id, ...attrs })];
}

/** A form whose submit runs `action(form)`, showing the API's error beside the button. */
export function form(labelKey, children, submitKey, action) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const el = h("form", { "aria-label": t(labelKey) }, children,
    h("button", { type: "submit", text: t(submitKey) }), error);
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    try {
      await action(el);
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    }
  });
  return el;
}

export function errorText(err) {
  const key = `error_${err.code}`;
  const known = t(key);
  return known === key ? t("error_generic", { detail: err.message }) : known;
}

export function heading(key, vars) {
  return h("h1", { text: t(key, vars) });
}
