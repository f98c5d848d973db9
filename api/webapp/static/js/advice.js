// One line of sleep advice from the night's figures: duration against the National Sleep
// Foundation's range for the wearer's age group (the API says which), how broken the
// night was, and how regular the nights are when a trend is at hand.
import { t, number } from "./i18n.js";

export function sleepAdvice(s, regularity = null) {
  const sleep = s.sleep;
  if (!sleep.minutes || !sleep.start) return t("advice_no_sleep");
  const rec = sleep.recommended;
  const hours = sleep.minutes / 60;
  const vars = { h: number(hours, 1), min: rec.min_h, max: rec.max_h, group: t(`age_group_${rec.age_group}`) };
  const parts = [];
  if (hours < rec.min_h) parts.push(t("advice_short", vars));
  else if (hours > rec.max_h + 1) parts.push(t("advice_long", vars));
  else parts.push(t("advice_ok", vars));
  if (sleep.efficiency != null && sleep.efficiency < 0.85)
    parts.push(t("advice_broken", { pct: number(sleep.efficiency * 100), n: sleep.awakenings }));
  if (regularity?.midpoint_sd_min != null && regularity.nights >= 3)
    parts.push(regularity.midpoint_sd_min > 60
      ? t("advice_irregular", { min: number(regularity.midpoint_sd_min) })
      : t("advice_regular"));
  return parts.join(" ");
}
