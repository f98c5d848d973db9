"""The simulated band's model and record log behave like the firmware they stand for."""

from __future__ import annotations

import datetime as dt

import numpy as np

from bandhub.contracts import gatt as g
from firmware_sim.physiology import Activity, DayPlan, fall_window, simulate_day
from firmware_sim.record_log import RecordLog

DAY = dt.date(2026, 11, 23)


def test_day_is_reproducible_and_plausible() -> None:
    a = simulate_day(DayPlan(DAY, seed=4))
    b = simulate_day(DayPlan(DAY, seed=4))
    assert np.array_equal(a.steps, b.steps)
    assert 5_000 < a.steps.sum() < 25_000  # an ordinary active day
    assert 6 * 60 < a.asleep_minutes() < 9 * 60
    night = a.hr_bpm[2 * 3600 : 4 * 3600]
    run = a.hr_bpm[a.activity == Activity.RUN]
    assert night.mean() < 65 < run.mean()
    assert a.steps[a.activity == Activity.SLEEP].sum() == 0


def test_rr_intervals_match_heart_rate() -> None:
    day = simulate_day(DayPlan(DAY, seed=2))
    rr = day.rr_intervals_ms(3 * 3600, 3 * 3600 + 300)
    expected = 60_000 / day.hr_bpm[3 * 3600 : 3 * 3600 + 300].mean()
    assert abs(rr.mean() - expected) / expected < 0.05
    assert np.std(np.diff(rr)) > 5  # beat-to-beat variability is present


def test_fall_window_has_free_fall_impact_and_stillness() -> None:
    ax, ay, az, pre = fall_window(np.random.default_rng(0))
    mag = np.sqrt(ax**2 + ay**2 + az**2)
    assert mag[pre - 15 : pre].max() < 0.7  # falling (partly weightless) just before the impact
    assert mag[pre : pre + 5].max() > 3.0  # the impact
    assert np.std(mag[pre + 50 :]) < 0.05  # lying still afterwards


def test_record_log_sequence_only_goes_up_and_deletes_are_partial() -> None:
    log = RecordLog(capacity=5)
    for i in range(3):
        log.append(g.RecordType.BATTERY, 1_800_000_000 + i, 90)
    assert log.status == g.LogStatus(0, 3)
    assert [r.seq for r in log.read_from(1, 10)] == [1, 2]
    assert log.delete_through(1) == 2
    assert log.status == g.LogStatus(2, 3)
    log.append(g.RecordType.BATTERY, 0, 89)
    assert [r.seq for r in log.read_from(0, 10)] == [2, 3]  # an old cursor still works


def test_full_record_log_drops_the_oldest_and_counts_them() -> None:
    log = RecordLog(capacity=3)
    for _ in range(5):
        log.append(g.RecordType.BATTERY, 0, 50)
    assert log.dropped == 2
    assert log.status == g.LogStatus(2, 5)


async def test_a_band_stops_at_a_fractional_stop_time():
    import asyncio
    import datetime as dt

    from bumble.link import LocalLink

    from firmware_sim.runner import FleetOptions, start_fleet

    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    [band] = await start_fleet(
        FleetOptions(count=1, start=start, days=0.0013, speed=600, fall_band=None), LocalLink()
    )  # 112.32 s of band time
    try:
        await asyncio.wait_for(band.stopped.wait(), 10)
    finally:
        await band.close()


async def test_the_bands_step_count_starts_at_the_wearers_local_midnight():
    """Local Time Information +6 h: the count resets at 18:00 UTC, not at UTC midnight."""
    import asyncio

    from bumble.link import LocalLink

    from firmware_sim.runner import FleetOptions, start_fleet

    start = dt.datetime(2026, 11, 23, 17, 40, tzinfo=dt.UTC)
    [band] = await start_fleet(
        FleetOptions(count=1, start=start, days=40 / 1440, speed=600, fall_band=None), LocalLink()
    )
    try:
        band._on_local_time_write(None, g.encode_local_time_information(6 * 3600))
        await asyncio.wait_for(band.stopped.wait(), 20)
        day = band.simulated_days[start.date()]
        midnight = int(start.timestamp()) + 20 * 60 - day.midnight  # 18:00 UTC, local 00:00
        end = band._state.generated_until - day.midnight
        assert day.steps[midnight - 20 * 60 : midnight].sum() > 0  # walking before it
        assert band._steps_now() == day.steps[midnight:end].sum()
        assert g.decode_local_time_information(band._local_time_information()) == 21600
    finally:
        await band.close()
