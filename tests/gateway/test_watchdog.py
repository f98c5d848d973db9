"""The watchdog fires on silence: any advertisement or sign of life from a connected
device keeps it quiet; and on a radio that refuses every connection attempt."""

from __future__ import annotations

from gateway.watchdog import RadioWatchdog
from tests.gateway.fakes import Clock


def test_silence_past_the_limit_fires_and_a_sign_of_life_postpones_it():
    clock = Clock(100.0)
    dog = RadioWatchdog(30.0, clock=clock)
    clock.now = 129.0
    assert dog.quiet_for([]) is None
    clock.now = 131.0
    assert dog.quiet_for([]) == 31.0
    assert dog.quiet_for([120.0]) is None  # a connected band spoke 11 s ago
    dog.heard()  # an advertisement, or the reset itself
    clock.now = 150.0
    assert dog.quiet_for([90.0]) is None


def test_connection_attempts_refused_in_a_row_mean_a_wedged_radio():
    dog = RadioWatchdog(120.0, clock=Clock(100.0), max_refusals=3)
    dog.refused("A")
    dog.refused("B")
    dog.connected()  # one success: the radio works
    dog.refused("A")
    dog.refused("B")
    assert not dog.wedged(sessions=2)
    dog.refused("A")
    assert dog.wedged(sessions=2)  # refused for two devices: it is the radio
    dog.was_reset()
    assert not dog.wedged(sessions=0) and dog.refusals == 0


def test_one_flaky_device_does_not_reset_the_radio_under_connected_ones():
    dog = RadioWatchdog(120.0, clock=Clock(100.0), max_refusals=3)
    for _ in range(5):
        dog.refused("A")
    assert not dog.wedged(sessions=2)
    assert dog.wedged(sessions=0)  # alone, a reset costs nothing
