"""Distance, energy, active minutes and heart-rate zones of a day, from the wearer's
profile (height, weight, birth year, sex) and per-minute epochs.

The day's epochs are reduced once to a profile-free *basis* (what the summary stores);
the profile is applied when the summary is read, so a changed profile changes the
figures at once without recomputing the day. Every formula is linear in what the
basis sums, which is why a few sums are enough. The formulas (docs/analytics.md):

- active minute: worn, and a cadence of at least 100 steps/min (moderate walking,
  Tudor-Locke et al. 2018), as the day's rollup counts them (ingest/rollups.py);
- stride: 0.415 x height (men), 0.413 x height (women), their mean when sex is not
  given (the usual pedometer rule); distance = steps x stride;
- resting energy: Mifflin-St Jeor BMR, spread evenly over the day's minutes;
- active energy, per active minute with heart rate: Keytel et al. 2005 (energy from
  heart rate, weight, age and sex, no VO2max) less the resting share; for steps
  outside those minutes: the ACSM walking equation's net cost, 0.1 ml O2/kg per metre,
  at 5 kcal per litre of O2;
- maximal heart rate 208 - 0.7 x age (Tanaka et al. 2001), zones at 50/60/70/80/90 %.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

ACTIVE_CADENCE = 100  # steps per minute, as ingest.rollups.ACTIVE_STEPS
ZONE_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9)  # share of maximal heart rate where zones 1-5 start
_KJ_PER_KCAL = 4.184


@dataclass(frozen=True)
class Profile:
    height_cm: float | None = None
    weight_kg: float | None = None
    birth_year: int | None = None
    sex: str | None = None  # "female", "male" or None

    def age(self, on: dt.date) -> int | None:
        return None if self.birth_year is None else on.year - self.birth_year


def day_basis(steps: np.ndarray, hr_mean: np.ndarray, worn: np.ndarray) -> dict:
    """The profile-free sums of a day's minute epochs that the figures need."""
    steps = np.asarray(steps, dtype=float)
    worn = np.asarray(worn, dtype=bool)
    hr = np.asarray(hr_mean, dtype=float)
    active = worn & (steps >= ACTIVE_CADENCE)
    has_hr = ~np.isnan(hr)
    keytel = active & has_hr
    bpm, count = np.unique(np.round(hr[worn & has_hr]).astype(int), return_counts=True)
    return {
        "active_min": int(active.sum()),
        "keytel_min": int(keytel.sum()),
        "keytel_hr_sum": round(float(hr[keytel].sum()), 1),
        "walk_steps": int(steps[~keytel].sum()),
        "hr_minutes": {str(b): int(c) for b, c in zip(bpm, count, strict=True)},
    }


def stride_m(p: Profile) -> float | None:
    if p.height_cm is None:
        return None
    factor = {"male": 0.415, "female": 0.413}.get(p.sex or "", 0.414)
    return p.height_cm / 100 * factor


def bmr_kcal_day(p: Profile, age: int | None) -> float | None:
    """Mifflin-St Jeor (1990); without sex, the mean of its two constants."""
    if p.weight_kg is None or p.height_cm is None or age is None:
        return None
    constant = {"male": 5.0, "female": -161.0}.get(p.sex or "", -78.0)
    return 10 * p.weight_kg + 6.25 * p.height_cm - 5 * age + constant


def _keytel_kj(p: Profile, age: int, minutes: int, hr_sum: float) -> float:
    """Keytel et al. (2005) summed over ``minutes`` whose heart rates sum to ``hr_sum``."""
    w = p.weight_kg or 0.0
    male = -55.0969 * minutes + 0.6309 * hr_sum + (0.1988 * w + 0.2017 * age) * minutes
    female = -20.4022 * minutes + 0.4472 * hr_sum + (-0.1263 * w + 0.074 * age) * minutes
    return {"male": male, "female": female}.get(p.sex or "", (male + female) / 2)


def activity(basis: Mapping, steps: int, p: Profile, day: dt.date, minutes_so_far: int) -> dict:
    """Distance, energy and active minutes; a figure the profile cannot give is None."""
    age = p.age(day)
    stride = stride_m(p)
    bmr = bmr_kcal_day(p, age)
    active_kcal = resting_kcal = None
    if bmr is not None and stride is not None and p.weight_kg is not None and age is not None:
        n = basis["keytel_min"]
        keytel = _keytel_kj(p, age, n, basis["keytel_hr_sum"]) / _KJ_PER_KCAL - bmr / 1440 * n
        walking = 0.1 * stride * basis["walk_steps"] * p.weight_kg / 1000 * 5
        active_kcal = round(max(0.0, keytel) + walking)
        resting_kcal = round(bmr * minutes_so_far / 1440)
    return {
        "active_minutes": basis["active_min"],
        "distance_m": None if stride is None else round(steps * stride),
        "stride_m": None if stride is None else round(stride, 3),
        "active_kcal": active_kcal,
        "resting_kcal": resting_kcal,
        "total_kcal": None if active_kcal is None else active_kcal + resting_kcal,
    }


def max_heart_rate(age: int) -> float:
    """Tanaka, Monahan and Seals (2001)."""
    return 208 - 0.7 * age


def hr_zones(hr_minutes: Mapping[str, int], age: int | None) -> dict | None:
    """Minutes in each zone of % maximal heart rate (below 50 %: no zone)."""
    if age is None:
        return None
    top = max_heart_rate(age)
    edges: Sequence[int] = [round(top * e) for e in ZONE_EDGES]
    zones = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        minutes = sum(
            c for b, c in hr_minutes.items() if int(b) >= low and (high is None or int(b) < high)
        )  # whole bpm: a zone runs from its lower edge up to the next one's
        zones.append(
            {
                "zone": i + 1,
                "low_bpm": low,
                "high_bpm": high,
                "minutes": minutes,
            }
        )
    return {"max_bpm": round(top), "formula": "tanaka", "zones": zones}


DEFAULT_STEP_GOAL = 8000  # where the lowered mortality of Paluch et al. (2022) levels off


def sleep_recommendation(age: int | None) -> dict:
    """Hours of sleep the National Sleep Foundation (Hirshkowitz et al. 2015) recommends
    for the age group; an adult's when the age is not known."""
    if age is not None and age >= 65:
        return {"age_group": "older_adult", "min_h": 7, "max_h": 8, "source": "NSF 2015"}
    if age is not None and age < 18:
        return {"age_group": "teenager", "min_h": 8, "max_h": 10, "source": "NSF 2015"}
    return {"age_group": "adult", "min_h": 7, "max_h": 9, "source": "NSF 2015"}
