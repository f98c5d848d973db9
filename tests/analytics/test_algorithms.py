"""The analytics on synthetic signals whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import sleep
from analytics.falls import confirm_fall, detect_falls
from analytics.heart_rate import heart_rate_windows
from analytics.hrv import hrv_from_chunks, hrv_from_rr
from analytics.steps import activity_per_epoch, count_steps
from firmware_sim.physiology import fall_window


def walking(fs: float, seconds: float, cadence_hz: float, seed: int = 0) -> np.ndarray:
    """Wrist acceleration (g) with one sharp peak per step, plus sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    phase = (t * cadence_hz) % 1.0
    bump = 0.5 * np.exp(-(((phase - 0.5) / 0.08) ** 2))
    z = 1.0 + bump - bump.mean() + 0.02 * rng.normal(size=t.size)
    return np.column_stack([0.02 * rng.normal(size=t.size), 0.02 * rng.normal(size=t.size), z])


@pytest.mark.parametrize("fs", [20.0, 50.0, 125.0])
def test_steps_counted_at_any_rate(fs: float) -> None:
    result = count_steps(walking(fs, 60, 1.8), fs)
    assert result.steps == pytest.approx(108, rel=0.05)
    assert result.cadence_spm == pytest.approx(108, rel=0.05)


def test_steps_from_raw_counts_magnitude_match_g() -> None:
    acc = walking(25.0, 60, 2.0)
    in_g = count_steps(acc, 25.0).steps
    raw = count_steps(np.linalg.norm(acc, axis=1) * 16384, 25.0).steps
    assert raw == in_g
    assert in_g == pytest.approx(120, rel=0.05)


def test_no_steps_when_still() -> None:
    rng = np.random.default_rng(1)
    still = np.column_stack([np.zeros(3000), np.zeros(3000), 1 + 0.01 * rng.normal(size=3000)])
    assert count_steps(still, 50.0).steps == 0


def test_activity_per_epoch_is_enmo_in_milli_g() -> None:
    acc = np.column_stack([np.zeros(600), np.zeros(600), np.r_[np.ones(300), np.full(300, 1.1)]])
    assert activity_per_epoch(acc, 50.0, epoch_s=6.0) == pytest.approx([0.0, 100.0], abs=1e-6)


def test_heart_rate_follows_pulse_not_arm_swing() -> None:
    fs = 125.0
    t = np.arange(int(60 * fs)) / fs
    pulse_hz = 1.5 + 0.3 * t / t[-1]  # 90 -> 108 bpm
    ppg = np.sin(2 * np.pi * np.cumsum(pulse_hz) / fs)
    swing = 2.5 * np.sin(2 * np.pi * 2.6 * t)  # running cadence, stronger than the pulse
    acc = np.column_stack([swing / 2.5, np.zeros_like(t), np.ones_like(t)])
    windows = heart_rate_windows(np.column_stack([ppg + swing, ppg + swing]), acc, fs)
    assert len(windows) == 27
    truth = [60 * (1.5 + 0.3 * (w.t_end - 4) / 60) for w in windows]
    assert np.mean(np.abs(np.array([w.bpm for w in windows]) - truth)) < 3.0


def test_hrv_time_and_frequency_domain() -> None:
    beats = np.arange(600)
    rr = 800 + 40 * np.sin(2 * np.pi * 0.1 * beats * 0.8)  # 0.1 Hz: LF, variance 800 ms²
    result = hrv_from_rr(rr)
    assert result.mean_nn_ms == pytest.approx(800, abs=1)
    assert result.sdnn_ms == pytest.approx(np.std(rr, ddof=1), rel=1e-3)
    assert result.lf_ms2 == pytest.approx(800, rel=0.1)
    assert result.hf_ms2 < 0.05 * result.lf_ms2


def test_hrv_removes_artefacts_and_ectopic_beats() -> None:
    rng = np.random.default_rng(3)
    rr = 900 + 20 * rng.normal(size=300)
    clean = hrv_from_rr(rr)
    rr[[50, 150]] = [450, 1400]  # an ectopic pair of sorts
    rr[200] = 5000  # a lost connection
    dirty = hrv_from_rr(rr)
    assert (dirty.n_artefacts, dirty.n_ectopic) == (1, 2)
    assert dirty.rmssd_ms == pytest.approx(clean.rmssd_ms, rel=0.1)


def test_hrv_over_a_bands_rr_chunks_never_pairs_intervals_across_chunks() -> None:
    rng = np.random.default_rng(7)
    rr = 850 + 40 * np.sin(np.arange(2000) * 1.3) + 10 * rng.normal(size=2000)
    whole, chunked = hrv_from_rr(rr), hrv_from_chunks(np.array_split(rr, 300))
    assert chunked.sdnn_ms == pytest.approx(whole.sdnn_ms, rel=1e-3)
    assert chunked.rmssd_ms == pytest.approx(whole.rmssd_ms, rel=0.02)
    assert chunked.pnn50_pct == pytest.approx(whole.pnn50_pct, abs=2.0)
    assert chunked.lf_ms2 is None  # no spectrum over beat times with gaps
    # steady beats within each record, a step between records (beats lost in between)
    steps = [np.full(8, 800.0 + 40 * (k % 2)) for k in range(50)]
    assert hrv_from_chunks(steps).rmssd_ms == 0.0
    assert hrv_from_rr(np.concatenate(steps)).rmssd_ms > 10


def test_sleep_scores_restless_stretch_as_wake_and_summarises() -> None:
    rng = np.random.default_rng(4)
    enmo = np.abs(rng.normal(0.002, 0.001, size=1920))  # 8 h of 15-s epochs, still
    enmo[:40] = 0.08  # 10 min awake in bed
    enmo[1000:1080] = 0.06  # 20 min awake in the night
    asleep = sleep.score_bandhub(enmo, 15.0, "enmo")
    assert not asleep[:36].any() and not asleep[1004:1076].any()
    assert asleep[100:900].mean() > 0.98
    s = sleep.summarize(np.arange(enmo.size) * 15.0, asleep, 15.0)
    assert s.latency_min == pytest.approx(10, abs=2)
    assert s.waso_min == pytest.approx(20, abs=4)
    assert s.awakenings >= 1
    assert 0.9 < s.efficiency < 1.0


def test_band_fall_window_is_confirmed_and_a_bump_is_not() -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(5), 50)
    assert confirm_fall(np.column_stack([ax, ay, az]), 50, pre).is_fall is True  # stored by ingest
    bump = np.column_stack([np.zeros(400), np.zeros(400), np.ones(400)])
    bump[200:203, 2] = 2.5  # a knock on the table, nothing before or after
    verdict = confirm_fall(bump, 50, 200)
    assert not verdict.is_fall
    assert detect_falls(bump, 50) == []


def test_hrv_time_domain_agrees_with_neurokit2() -> None:
    nk = pytest.importorskip("neurokit2")
    from analytics.hrv import clean_rr, time_domain

    rng = np.random.default_rng(6)
    rr = 850 + 40 * np.sin(np.arange(500) * 0.3) + 25 * rng.normal(size=500)
    rr[[40, 41, 300]] = [500, 1300, 2500]  # ectopic pair and an artefact: removed beats
    nn, times, _, _ = clean_rr(rr)
    theirs = nk.hrv_time({"RRI": nn, "RRI_Time": times}, sampling_rate=1000)
    ours = time_domain(nn, times)
    for value, key in zip(ours, ("MeanNN", "SDNN", "RMSSD", "pNN50"), strict=True):
        assert value == pytest.approx(float(theirs[f"HRV_{key}"].iloc[0]), rel=0.01), key


def test_streaming_sleep_matches_batch_scoring_and_keeps_little_state() -> None:
    rng = np.random.default_rng(7)
    enmo = np.abs(rng.normal(0.003, 0.002, size=600))  # 10 h of minute epochs
    enmo[100:130] = 0.05
    enmo[400:410] = 0.07
    reference = sleep.quiet_reference(enmo)  # e.g. from the previous night
    batch = sleep.score_bandhub(enmo, 60.0, "enmo", reference)
    stream = sleep.StreamingSleepScorer(60.0, "enmo", reference)
    got: list[tuple[int, bool]] = []
    for value in enmo:
        got.extend(stream.push(float(value)))
        assert len(stream._buffer) <= 2 * stream.lag + 1
    got.extend(stream.flush())
    assert [k for k, _ in got] == list(range(600))
    assert np.array_equal(np.array([a for _, a in got]), batch)


def test_stages_are_only_given_to_sleep_epochs() -> None:
    asleep = np.array([0, 1, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    hr = np.array([80, 50, 52, 60, 61, 70, 72, 60, 85], dtype=float)
    still = np.zeros(9)
    got = sleep.stages(asleep, hr, still)
    assert got[0] == got[-1] == "wake"
    assert got[1] == "deep" and got[6] == "rem"
    assert set(got[1:8]) <= {"deep", "light", "rem"}


def test_daily_sleep_minutes_follow_the_simulated_night():
    import datetime as dt

    from analytics.daily import asleep_minutes
    from firmware_sim.physiology import DayPlan, simulate_day

    for seed in (1, 2, 3):
        day = simulate_day(DayPlan(dt.date(2026, 11, 25), seed, 60.0, None))
        worn = day.worn.reshape(1440, 60).all(1)
        got = int(asleep_minutes(day.enmo_mg / 1000.0, worn).sum())
        assert abs(got - day.asleep_minutes()) <= 10


def test_short_gaps_are_bridged_and_long_ones_fall_back_to_the_other_channel() -> None:
    rng = np.random.default_rng(8)
    enmo = np.abs(rng.normal(0.002, 0.001, size=960))  # 4 h of 15-s epochs, still
    enmo[400:440] = 0.08  # 10 min awake
    counts = np.where(enmo > 0.05, 80.0, 0.0)
    counts[:8] = np.nan  # 2 min missing: bridged
    counts[600:700] = np.nan  # 25 min missing: ENMO scores them
    enmo[650:690] = np.nan  # and 10 min of both missing: not scored
    night = sleep.score_night({"activity": counts, "enmo": enmo}, 15.0)
    assert set(night.source[:600]) == {"activity"} and night.filled[:8].all()
    assert set(night.source[600:650]) == {"enmo"} and set(night.source[650:690]) == {"none"}
    assert not night.asleep[650:690].any() and night.asleep[100:380].all()
    assert not night.asleep[405:435].any()
    assert night.bridged == {"enmo": 0, "activity": 8}
    assert [s["source"] for s in night.segments(np.arange(960) * 15.0, 15.0)] == [
        "activity",
        "enmo",
        "none",
        "enmo",
        "activity",
    ]


def test_a_days_sleep_is_what_ends_in_it_whole_wherever_it_began():
    """Three nights over a 3-day window: the day [1440, 2880) min gets the night that
    began before its midnight and ended in it, whole, and neither of the others."""
    from analytics.daily import sleep_ending_in

    t_s = np.arange(3 * 1440) * 60.0
    asleep = np.zeros(t_s.size, dtype=bool)
    for a, b in ((-120, 420), (1320, 1440 + 420), (1440 + 1320, 2880 + 420)):
        asleep[max(a, 0) : b] = True  # 22:00 to 07:00, each night
    asleep[1440 + 180] = False  # one minute awake in the night, bridged
    hr, movement = np.full(t_s.size, 55.0), np.zeros(t_s.size)
    day = sleep_ending_in(t_s, asleep, hr, movement, 1440 * 60.0, 2880 * 60.0)
    assert day.minutes == 540 - 1  # the whole night from 22:00 the day before
    assert (day.onset_s, day.end_s) == (1320 * 60.0, (1440 + 420) * 60.0)
    assert day.awakenings == 1 and sum(day.stage_minutes.values()) == day.minutes
    empty = sleep_ending_in(t_s, asleep, hr, movement, 1500 * 60.0, 1560 * 60.0)
    assert (empty.minutes, empty.onset_s) == (0, None)
