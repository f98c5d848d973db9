"""The simulated band's bootloader side of a firmware update (docs/gatt.md, "Firmware
update"): receive an image in order, keep what arrived across a dropped link, check
its hash and vendor signature, and swap (or roll back) on the next boot.

Pure state, no radio: ``firmware_sim.band`` wires it to the DFU characteristics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bandhub.contracts import dfu
from bandhub.contracts.gatt import DecodeError

MAX_IMAGE = 1024 * 1024  # the band's second flash bank


@dataclass
class BandDfu:
    model: str
    version: str
    vendor_key: bytes | None  # raw Ed25519 public key; None: every image is refused
    min_battery: int = 20  # the band's own floor, below the gateway's threshold
    state: dfu.DfuState = dfu.DfuState.IDLE
    last_result: dfu.LastResult = dfu.LastResult.NONE
    start: dfu.Start | None = None
    received: bytearray = field(default_factory=bytearray)  # the second bank, in order
    packets: int = 0  # since START, for receipt notifications
    updates: int = 0  # images booted
    _mismatch_reported: int = -1

    @property
    def status(self) -> dfu.Status:
        return dfu.Status(self.state, len(self.received), self.last_result)

    def control(self, value: bytes, battery: int, alert_active: bool) -> tuple[dfu.Response, str]:
        """One Control Point write: the response, and what the band would log."""
        op = value[0] if value else 0
        try:
            request = dfu.DfuOp(op)
        except ValueError:
            return dfu.Response(op, dfu.DfuStatus.UNSUPPORTED), "unsupported op"
        if request == dfu.DfuOp.START:
            return self._start(value[1:], battery, alert_active)
        if request == dfu.DfuOp.ABORT:
            self._discard()
            return dfu.Response(op, dfu.DfuStatus.SUCCESS), "aborted"
        if self.start is None:
            return dfu.Response(op, dfu.DfuStatus.NO_TRANSFER), "no transfer"
        if request == dfu.DfuOp.VERIFY:
            status = self._verify()
            if status != dfu.DfuStatus.SUCCESS:
                self._discard()
                self.last_result = dfu.LastResult.REFUSED
            return dfu.Response(op, status, len(self.received)), f"verify: {status.name}"
        if request == dfu.DfuOp.ACTIVATE:
            if self.state != dfu.DfuState.VERIFIED:
                return dfu.Response(op, dfu.DfuStatus.NOT_VERIFIED), "activate before verify"
            return dfu.Response(op, dfu.DfuStatus.SUCCESS), "activating"
        return dfu.Response(op, dfu.DfuStatus.UNSUPPORTED), "unsupported op"

    def _start(self, operand: bytes, battery: int, alert_active: bool):
        op = dfu.DfuOp.START
        try:
            start = dfu.Start.decode(operand)
        except DecodeError as exc:
            return dfu.Response(op, dfu.DfuStatus.INVALID_OPERAND), str(exc)
        if start.size > MAX_IMAGE:
            return dfu.Response(op, dfu.DfuStatus.TOO_LARGE), f"{start.size} bytes is too large"
        if start.size <= dfu.HEADER_SIZE:
            return dfu.Response(op, dfu.DfuStatus.INVALID_OPERAND), "image too small"
        if battery < self.min_battery:
            return dfu.Response(op, dfu.DfuStatus.BATTERY_LOW), f"battery {battery} %"
        if alert_active:
            return dfu.Response(op, dfu.DfuStatus.BUSY), "an alert is active"
        same = self.start is not None and (self.start.size, self.start.sha256) == (
            start.size,
            start.sha256,
        )
        if same and self.state == dfu.DfuState.RECEIVING:
            self.start = start  # the receipt interval may change on resume
            self.packets = 0  # receipts count from this START (docs/gatt.md)
            return dfu.Response(op, dfu.DfuStatus.SUCCESS, len(self.received)), (
                f"resume at {len(self.received)}"
            )
        self._discard()
        self.start, self.state = start, dfu.DfuState.RECEIVING
        return dfu.Response(op, dfu.DfuStatus.SUCCESS, 0), f"start {start.size} bytes"

    def packet(self, value: bytes) -> bool:
        """One Packet write; True when the band should notify its status now (every N
        packets, at the end, or once when a packet is not the next one expected)."""
        if self.state != dfu.DfuState.RECEIVING or self.start is None:
            return False
        try:
            offset, chunk = dfu.decode_packet(value)
        except DecodeError:
            return False
        have = len(self.received)
        if offset != have or have + len(chunk) > self.start.size:
            report = self._mismatch_reported != have
            self._mismatch_reported = have
            self.packets = 0  # receipts count again from the gateway's rewind
            return report  # the gateway rewinds to the offset it is told
        self.received += chunk
        self.packets += 1
        every = self.start.receipt_every
        return len(self.received) == self.start.size or bool(every and self.packets % every == 0)

    def _verify(self) -> dfu.DfuStatus:
        assert self.start is not None
        image = bytes(self.received)
        if len(image) != self.start.size:
            return dfu.DfuStatus.INCOMPLETE
        if dfu.sha256(image) != self.start.sha256:
            return dfu.DfuStatus.HASH_MISMATCH
        if self.vendor_key is None or not dfu.signature_ok(
            self.vendor_key, image, self.start.signature
        ):
            return dfu.DfuStatus.BAD_SIGNATURE
        try:
            header = dfu.ImageHeader.decode(image)
        except DecodeError:
            return dfu.DfuStatus.INVALID_IMAGE
        if header.model != self.model:
            return dfu.DfuStatus.INVALID_IMAGE
        self.state = dfu.DfuState.VERIFIED
        return dfu.DfuStatus.SUCCESS

    def boot(self) -> str:
        """The reboot after ACTIVATE: run the new image, or roll back to the old one when
        it does not come up (the test flag FAILS_TO_BOOT). Returns what happened."""
        image = bytes(self.received)
        header = dfu.ImageHeader.decode(image)
        self._discard()
        if header.flags & dfu.FLAG_FAILS_TO_BOOT:
            self.last_result = dfu.LastResult.ROLLED_BACK
            return f"{header.version} failed to boot; rolled back to {self.version}"
        old, self.version = self.version, header.version
        self.last_result = dfu.LastResult.UPDATED
        self.updates += 1
        return f"{old} -> {header.version}"

    def _discard(self) -> None:
        self.start, self.state, self.packets = None, dfu.DfuState.IDLE, 0
        self.received = bytearray()
        self._mismatch_reported = -1
