"""The simulated band's bootloader (docs/gatt.md, "Firmware update") without a radio:
the answers a compatible gateway must handle."""

from __future__ import annotations

from bandhub.contracts import dfu
from firmware_sim.dfu import BandDfu
from tests.firmware_images import VENDOR_PUBLIC, signed_image


def band() -> BandDfu:
    return BandDfu("BH-1", "1.0.0", VENDOR_PUBLIC)


def start(image: bytes, signature: bytes, every: int = 4) -> bytes:
    return dfu.Start(len(image), dfu.sha256(image), signature, every).encode()


def send(b: BandDfu, image: bytes, offset: int, chunk: int = 100) -> list[int]:
    """Packets from ``offset`` to the end; the offsets of the receipts the band sends."""
    receipts = []
    for at in range(offset, len(image), chunk):
        if b.packet(dfu.encode_packet(at, image[at : at + chunk])):
            receipts.append(b.status.offset)
    return receipts


def test_receipts_every_n_packets_and_a_resume_from_what_the_band_holds():
    image, signature = signed_image("1.1.0", size=1000)
    b = band()
    resp, _ = b.control(start(image, signature), battery=80, alert_active=False)
    assert (resp.status, resp.offset) == (dfu.DfuStatus.SUCCESS, 0)
    assert send(b, image[:650], 0) == [400]  # every 4th packet
    resp, _ = b.control(start(image, signature), battery=80, alert_active=False)
    assert resp.offset == 650  # the same image: resume
    assert send(b, image, 650) == [1000]  # the last byte
    resp, _ = b.control(bytes([dfu.DfuOp.VERIFY]), 80, False)
    assert resp.status == dfu.DfuStatus.SUCCESS
    assert b.control(bytes([dfu.DfuOp.ACTIVATE]), 80, False)[0].status == dfu.DfuStatus.SUCCESS
    assert b.boot() == "1.0.0 -> 1.1.0" and b.version == "1.1.0"
    assert b.status.last_result == dfu.LastResult.UPDATED


def test_a_packet_out_of_order_is_ignored_and_reported_once():
    image, signature = signed_image("1.1.0", size=1000)
    b = band()
    b.control(start(image, signature), 80, False)
    assert b.packet(dfu.encode_packet(0, image[:100])) is False
    assert b.packet(dfu.encode_packet(300, image[300:400])) is True  # tells where it is
    assert b.packet(dfu.encode_packet(400, image[400:500])) is False  # once
    assert b.status.offset == 100


def test_refusals():
    image, signature = signed_image("1.1.0", size=1000)
    b = band()
    assert b.control(start(image, signature), 10, False)[0].status == dfu.DfuStatus.BATTERY_LOW
    assert b.control(start(image, signature), 80, True)[0].status == dfu.DfuStatus.BUSY
    big = dfu.Start(2 * 1024 * 1024, bytes(32), bytes(64), 0).encode()
    assert b.control(big, 80, False)[0].status == dfu.DfuStatus.TOO_LARGE
    assert b.control(bytes([dfu.DfuOp.ACTIVATE]), 80, False)[0].status == dfu.DfuStatus.NO_TRANSFER
    other, other_sig = signed_image("1.1.0", size=1000, model="BH-2")
    b.control(start(other, other_sig), 80, False)
    send(b, other, 0)
    assert b.control(bytes([dfu.DfuOp.VERIFY]), 80, False)[0].status == dfu.DfuStatus.INVALID_IMAGE
    assert b.status.state == dfu.DfuState.IDLE and b.version == "1.0.0"  # discarded
    b.control(start(image, signature), 80, False)
    send(b, image[:500], 0)
    assert b.control(bytes([dfu.DfuOp.VERIFY]), 80, False)[0].status == dfu.DfuStatus.INCOMPLETE
