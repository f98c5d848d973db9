"""The watchdog fires on silence only: any advertisement or sign of life from a
connected device keeps it quiet."""

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
