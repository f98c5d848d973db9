"""The gateway's durable state: what was spooled and how far each band was read
survive a restart, and the spool is drained most urgent first."""

from __future__ import annotations

from gateway.state import GatewayState


def test_spooled_messages_and_cursors_survive_a_restart(tmp_path):
    path = tmp_path / "gw.sqlite"
    state = GatewayState(path)
    state.spool_and_advance("BH-0001", [(2, "t/epoch", "e" * 10), (1, "t/hr", "h" * 5)], 120)
    state.spool([(0, "t/fall", "f" * 3)])  # urgent copy: no cursor moves
    state.close()
    again = GatewayState(path)
    try:
        assert again.cursor("BH-0001") == 120 and again.cursor("BH-0002") == 0
        assert (again.spool_rows, again.spool_bytes) == (3, 18)
        entries = again.spool_next(10)
        assert [e.topic for e in entries] == ["t/fall", "t/hr", "t/epoch"]
        again.spool_remove([entries[0].id])
        assert (again.spool_rows, again.spool_bytes) == (2, 15)
        assert [e.topic for e in again.spool_next(10)] == ["t/hr", "t/epoch"]
    finally:
        again.close()


def test_paired_bands_are_remembered_by_address_and_forgotten_by_either(tmp_path):
    state = GatewayState(tmp_path / "gw.sqlite")
    try:
        state.add_paired("f0:f1:f2:f3:f4:01", "BH-0001", "BH-0001")
        state.add_paired("F0:F1:F2:F3:F4:02", "BH-0002")
        assert [(a, b) for a, b, *_ in state.paired()] == [
            ("F0:F1:F2:F3:F4:01", "BH-0001"), ("F0:F1:F2:F3:F4:02", "BH-0002")
        ]  # fmt: skip
        assert state.remove_paired("BH-0001") == 1
        assert state.remove_paired("f0:f1:f2:f3:f4:02") == 1
        assert state.paired() == []
    finally:
        state.close()
