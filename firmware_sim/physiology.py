"""A seeded physiological model of a wearer's day, with its ground truth.

The model is deliberately simple but shaped like real life: sleep at night with
~90-minute cycles and brief awakenings, desk time, walks, one exercise session, a
shower with the band off, and optionally a fall. Everything is precomputed per second
for one UTC day so the simulator can answer "what is true" for any minute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

SECONDS_PER_DAY = 86_400


class Activity(IntEnum):
    SLEEP = 0
    REST = 1  # sitting, desk work
    LIGHT = 2  # pottering about, chores
    WALK = 3
    RUN = 4
    NOT_WORN = 5
    LYING_AFTER_FALL = 6


# (resting HR offset bpm, cadence steps/min, enmo mg, activity counts/min)
_PROFILE = {
    Activity.SLEEP: (-8.0, 0.0, 2.0, 5.0),
    Activity.REST: (6.0, 0.0, 12.0, 60.0),
    Activity.LIGHT: (18.0, 25.0, 60.0, 900.0),
    Activity.WALK: (35.0, 108.0, 180.0, 3000.0),
    Activity.RUN: (85.0, 162.0, 650.0, 8000.0),
    Activity.NOT_WORN: (0.0, 0.0, 0.0, 0.0),
    Activity.LYING_AFTER_FALL: (20.0, 0.0, 3.0, 10.0),
}


@dataclass(frozen=True)
class DayPlan:
    """Parameters of one simulated day; ``fall_at_s`` is seconds after midnight UTC."""

    date: dt.date
    seed: int = 1
    resting_hr: float = 60.0
    fall_at_s: int | None = None


@dataclass(frozen=True)
class SimulatedDay:
    """Per-second truth for one UTC day."""

    plan: DayPlan
    activity: np.ndarray  # (86400,) Activity codes
    hr_bpm: np.ndarray  # (86400,) float, instantaneous heart rate
    steps: np.ndarray  # (86400,) int steps taken in each second
    beat_times: np.ndarray  # seconds after midnight of every heart beat
    enmo_mg: np.ndarray  # (1440,) per minute
    activity_count: np.ndarray  # (1440,) per minute

    @property
    def midnight(self) -> int:
        """Unix time of this day's 00:00 UTC."""
        return int(dt.datetime.combine(self.plan.date, dt.time(), tzinfo=dt.UTC).timestamp())

    @property
    def worn(self) -> np.ndarray:
        return self.activity != Activity.NOT_WORN

    def steps_between(self, start_s: int, end_s: int) -> int:
        return int(self.steps[start_s:end_s].sum())

    def asleep_minutes(self, start_s: int = 0, end_s: int = SECONDS_PER_DAY) -> int:
        """Minutes (of whole minutes in range) mostly spent asleep: the sleep truth."""
        asleep = (self.activity[start_s:end_s] == Activity.SLEEP).reshape(-1, 60).mean(axis=1)
        return int((asleep > 0.5).sum())

    def rmssd_ms(self, start_s: int, end_s: int, sleep_only: bool = False) -> float | None:
        """RMSSD of successive beats in [start_s, end_s) while worn (or asleep): the HRV truth."""
        beats = self.beat_times[(self.beat_times >= start_s) & (self.beat_times < end_s)]
        keep = self.activity[beats.astype(np.int64)]
        keep = keep == Activity.SLEEP if sleep_only else keep != Activity.NOT_WORN
        rr = np.diff(beats) * 1000.0
        both = keep[1:] & keep[:-1]  # an interval counts when both its beats do
        diffs = np.diff(rr)[both[1:] & both[:-1]]
        return round(float(np.sqrt(np.mean(diffs**2))), 1) if diffs.size else None

    def rr_intervals_ms(self, start_s: float, end_s: float) -> np.ndarray:
        """RR intervals of the beats that fall in (start_s, end_s]."""
        i0 = np.searchsorted(self.beat_times, start_s, side="right")
        i1 = np.searchsorted(self.beat_times, end_s, side="right")
        if i0 == 0:
            i0 = 1
        return np.diff(self.beat_times[i0 - 1 : i1]) * 1000.0


def _segments(plan: DayPlan, rng: np.random.Generator) -> list[tuple[int, int, Activity]]:
    """A plausible day as (start_s, end_s, activity) covering 00:00-24:00."""

    def at(hours: float, jitter_min: float = 0.0) -> int:
        return int(hours * 3600 + rng.normal(0.0, jitter_min * 60))

    wake = at(6.75, 20)
    bed = at(23.0, 20)
    segs: list[tuple[int, int, Activity]] = [(0, wake, Activity.SLEEP)]
    day_parts = [
        (wake, at(7.1), Activity.LIGHT),
        (at(7.1), at(7.3), Activity.NOT_WORN),  # shower
        (at(7.3), at(8.0), Activity.LIGHT),
        (at(8.0), at(8.0) + int(rng.uniform(15, 25) * 60), Activity.WALK),  # commute
    ]
    segs += day_parts
    t = segs[-1][1]
    segs.append((t, at(12.3), Activity.REST))
    segs.append((at(12.3), at(12.3) + int(rng.uniform(15, 30) * 60), Activity.WALK))  # lunch
    segs.append((segs[-1][1], at(17.0), Activity.REST))
    segs.append((at(17.0), at(17.0) + int(rng.uniform(15, 25) * 60), Activity.WALK))
    t = segs[-1][1]
    segs.append((t, at(18.0), Activity.LIGHT))
    run_len = int(rng.uniform(25, 45) * 60)
    segs.append((at(18.0), at(18.0) + run_len, Activity.RUN))
    segs.append((segs[-1][1], at(19.5), Activity.LIGHT))
    segs.append((at(19.5), bed, Activity.REST))
    segs.append((bed, SECONDS_PER_DAY, Activity.SLEEP))
    return segs


def simulate_day(plan: DayPlan) -> SimulatedDay:
    """Precompute one day of per-second truth; same plan, same day."""
    rng = np.random.default_rng([plan.seed, plan.date.toordinal()])
    activity = np.full(SECONDS_PER_DAY, Activity.REST, dtype=np.int8)
    for start, end, act in _segments(plan, rng):
        activity[max(start, 0) : min(end, SECONDS_PER_DAY)] = act
    # brief night-time awakenings, as most sleepers have
    for _ in range(int(rng.integers(2, 5))):
        start = int(rng.uniform(1.0, 5.5) * 3600)
        activity[start : start + int(rng.uniform(2, 8) * 60)] = Activity.LIGHT
    if plan.fall_at_s is not None:
        fall = plan.fall_at_s
        activity[fall : fall + 120] = Activity.LYING_AFTER_FALL

    offsets = np.array([_PROFILE[Activity(a)][0] for a in range(len(Activity))])
    cadences = np.array([_PROFILE[Activity(a)][1] for a in range(len(Activity))])
    enmos = np.array([_PROFILE[Activity(a)][2] for a in range(len(Activity))])
    counts = np.array([_PROFILE[Activity(a)][3] for a in range(len(Activity))])

    t = np.arange(SECONDS_PER_DAY)
    target = plan.resting_hr + offsets[activity]
    # sleep cycles: deeper sleep early in the night lowers HR, REM raises it
    night = activity == Activity.SLEEP
    target[night] += 4.0 * np.sin(2 * np.pi * t[night] / 5400.0)
    hr = _first_order_lag(target, tau_s=45.0) + _ar1(rng, SECONDS_PER_DAY, 0.995, 0.4)
    hr = np.clip(hr, 38.0, 200.0)

    cadence_per_s = cadences[activity] / 60.0 * rng.uniform(0.9, 1.1, SECONDS_PER_DAY)
    steps = rng.poisson(cadence_per_s).astype(np.int64)
    steps[activity == Activity.NOT_WORN] = 0

    per_min = activity.reshape(1440, 60)
    enmo = enmos[per_min].mean(axis=1) * rng.uniform(0.8, 1.2, 1440)
    act_count = counts[per_min].mean(axis=1) * rng.uniform(0.7, 1.3, 1440)

    beat_times = _beats(hr, rng)
    return SimulatedDay(
        plan=plan,
        activity=activity,
        hr_bpm=hr,
        steps=steps,
        beat_times=beat_times,
        enmo_mg=np.round(enmo).astype(np.int64),
        activity_count=np.round(act_count).astype(np.int64),
    )


def _first_order_lag(x: np.ndarray, tau_s: float) -> np.ndarray:
    """Heart rate follows demand with a lag of tau seconds (an exponential filter)."""
    from scipy.signal import lfilter

    a = np.exp(-1.0 / tau_s)
    y = lfilter([1 - a], [1, -a], x - x[0]) + x[0]
    return y


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], rng.normal(0.0, sigma, n))


def _beats(hr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Beat times with respiratory sinus arrhythmia and slower (LF) modulation."""
    dt_s = 0.1
    grid = np.arange(0.0, SECONDS_PER_DAY, dt_s)
    rate = np.interp(grid, np.arange(SECONDS_PER_DAY), hr) / 60.0
    rsa = 0.04 * np.sin(2 * np.pi * 0.25 * grid + rng.uniform(0, 6.28))
    lf = 0.02 * np.sin(2 * np.pi * 0.1 * grid + rng.uniform(0, 6.28))
    phase = np.cumsum(rate * (1.0 + rsa + lf)) * dt_s
    n_beats = int(phase[-1])
    return np.interp(np.arange(1, n_beats + 1), phase, grid)


def fall_window(rng: np.random.Generator, fs_hz: int = 50, pre_s: float = 4.0, post_s: float = 4.0):
    """Raw wrist acceleration (g) around a fall: walking, falling, impact, lying still.

    Returns (ax, ay, az, pre_samples). Shaped like the wrist falls of the fall sets (docs/
    analytics.md): a partial free fall (|a| about 0.6 g for 0.3 s: a wrist is rarely
    weightless) while the forearm turns, gravity moving from the z axis (arm hanging) to
    the x axis (lying on the floor); an impact of about 4 g; the arm bouncing once or twice
    (4 Hz, damped in 0.15 s) and then lying still.
    """
    n_pre, n_post = int(pre_s * fs_hz), int(post_s * fs_hz)
    t = np.arange(n_pre + n_post) / fs_hz
    ax = 0.05 * rng.normal(size=t.size)
    ay = 0.05 * rng.normal(size=t.size)
    az = np.ones_like(t) + 0.25 * np.sin(2 * np.pi * 1.8 * t) + 0.05 * rng.normal(size=t.size)
    n_free = int(0.3 * fs_hz)
    turn = np.linspace(0.0, np.pi / 2, n_free)
    free = slice(n_pre - n_free, n_pre)
    ax[free], ay[free], az[free] = 0.6 * np.sin(turn), 0.05, 0.6 * np.cos(turn)
    n_impact = max(int(0.08 * fs_hz), 2)
    impact = slice(n_pre, n_pre + n_impact)
    ax[impact] += 3.5
    ay[impact] += 1.5
    az[impact] += 2.0
    after = slice(n_pre + n_impact, None)
    k = np.arange(t.size - after.start) / fs_hz
    bounce = np.exp(-k / 0.15) * np.sin(2 * np.pi * 4.0 * k)
    ax[after] = 0.97 + 0.8 * bounce + 0.01 * rng.normal(size=k.size)
    ay[after] = 0.1 + 0.01 * rng.normal(size=k.size)
    az[after] = 0.15 + 0.4 * bounce + 0.01 * rng.normal(size=k.size)
    return ax, ay, az, n_pre
