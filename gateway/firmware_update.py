"""The gateway's side of the DFU procedure (docs/gatt.md, "Firmware update"): start
(or resume from the band's confirmed offset), send the image in packets with receipt
notifications as flow control, have the band verify it, and activate it.

A dropped link raises like any other session failure; the job stays in the state
file and the next connection resumes where the band's receipts left off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bleak import BleakClient

from bandhub.contracts import dfu
from bandhub.contracts.gatt import DecodeError
from gateway.firmware_jobs import FirmwareJob, FirmwareJobs

log = logging.getLogger(__name__)

_RESPONSE_S = 10.0  # VERIFY checks a signature over the whole image: give it time
_MAX_CHUNK = 240  # image bytes a packet carries at ATT MTU 247 (244 - the u32 offset)


class DfuError(RuntimeError):
    """The link or the band stopped following the procedure; the session ends and
    the update resumes on the next connection."""


class FirmwareUpdater:
    def __init__(
        self,
        client: BleakClient,
        jobs: FirmwareJobs,
        *,
        receipt_every: int,
        stall_s: float,
        min_battery: int,
        alive: Callable[[], None] = lambda: None,
    ) -> None:
        """``alive()`` is told of every receipt: a sign of life for the radio watchdog."""
        self.client = client
        self._alive = alive
        self.jobs = jobs
        self.receipt_every = receipt_every
        self.stall_s = stall_s
        self.min_battery = min_battery
        self._responses: asyncio.Queue[dfu.Response] = asyncio.Queue()
        self._receipts: asyncio.Queue[dfu.Status] = asyncio.Queue()

    async def subscribe(self) -> None:
        await self.client.start_notify(dfu.DFU_CONTROL, self._on_control)
        await self.client.start_notify(dfu.DFU_STATUS, self._on_status)

    async def last_result(self) -> dfu.Status:
        return dfu.Status.decode(bytes(await self.client.read_gatt_char(dfu.DFU_STATUS)))

    async def run(self, job: FirmwareJob, battery: int | None, running: str) -> bool:
        """One attempt; True when the band took the image and is rebooting into it.
        False when it has to wait (battery, an alert) or ended (refused)."""
        if battery is not None and battery < self.min_battery:
            self._wait(job, f"battery {battery} % is below {self.min_battery} %")
            return False
        start = dfu.Start(len(job.image), job.sha256, job.signature, self.receipt_every)
        resp = await self._control(start.encode(), dfu.DfuOp.START)
        if resp.status in (dfu.DfuStatus.BATTERY_LOW, dfu.DfuStatus.BUSY):
            why = "battery low" if resp.status == dfu.DfuStatus.BATTERY_LOW else "alert active"
            self._wait(job, f"band says: {why}")
            return False
        if resp.status != dfu.DfuStatus.SUCCESS:
            self.jobs.progress(job, "refused", detail=f"START refused: {resp.status.name}")
            return False
        resumes = job.progress.get("resumes", 0) + (1 if resp.offset else 0)
        if resp.offset:
            log.info("band %s: firmware %s resumes at byte %d of %d",
                     job.band_id, job.version, resp.offset, len(job.image))  # fmt: skip
        chunk = max(1, min(self.client.mtu_size - 3 - dfu.PACKET_HEADER, _MAX_CHUNK))
        self.jobs.progress(job, "transferring", offset=resp.offset, chunk=chunk, resumes=resumes)
        await self._send(job, resp.offset, chunk)
        self.jobs.progress(job, "verifying", offset=len(job.image))
        verified = await self._control(bytes([dfu.DfuOp.VERIFY]), dfu.DfuOp.VERIFY)
        if verified.status != dfu.DfuStatus.SUCCESS:
            detail = f"the band refused the image ({verified.status.name}); it still runs {running}"
            self.jobs.progress(job, "refused", detail=detail)
            return False
        activated = await self._control(bytes([dfu.DfuOp.ACTIVATE]), dfu.DfuOp.ACTIVATE)
        if activated.status != dfu.DfuStatus.SUCCESS:
            self.jobs.progress(job, "failed", detail=f"ACTIVATE: {activated.status.name}")
            return False
        self.jobs.progress(job, "activating", detail=f"rebooting from {running}")
        return True

    def _wait(self, job: FirmwareJob, why: str) -> None:
        if job.progress.get("detail") != why or job.stage != "waiting":
            log.info("band %s: firmware %s waits: %s", job.band_id, job.version, why)
            self.jobs.progress(job, "waiting", detail=why)

    async def _send(self, job: FirmwareJob, offset: int, chunk: int) -> None:
        """Windows of ``receipt_every`` packets, each confirmed by a receipt before the
        next; a receipt naming an earlier offset rewinds to it."""
        image, size = job.image, len(job.image)
        window = self.receipt_every or max(1, size // chunk + 1)
        _drain(self._receipts)
        while offset < size:
            began = time.monotonic()
            end = offset
            for _ in range(window):
                if end >= size:
                    break
                piece = image[end : end + chunk]
                await self.client.write_gatt_char(
                    dfu.DFU_PACKET, dfu.encode_packet(end, piece), response=False
                )
                end += len(piece)
            confirmed = await self._receipt(end)
            spent = job.progress.get("transfer_s", 0.0) + time.monotonic() - began
            offset = confirmed
            self.jobs.progress(job, "transferring", offset=offset, transfer_s=round(spent, 3))

    async def _receipt(self, expected: int) -> int:
        """The offset the band confirms: ``expected``, or an earlier one to resend from."""
        try:
            status = await asyncio.wait_for(self._receipts.get(), self.stall_s)
        except TimeoutError:
            raise DfuError(f"no packet receipt for {self.stall_s:.0f} s") from None
        if status.offset != expected:
            log.info("band confirms byte %d, expected %d: resending from there",
                     status.offset, expected)  # fmt: skip
        return status.offset

    async def _control(self, value: bytes, op: dfu.DfuOp) -> dfu.Response:
        _drain(self._responses)
        await self.client.write_gatt_char(dfu.DFU_CONTROL, value, response=True)
        deadline = time.monotonic() + _RESPONSE_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                resp = await asyncio.wait_for(self._responses.get(), left)
            except TimeoutError:
                break
            if resp.request == op:
                return resp
        raise DfuError(f"no response to {op.name} within {_RESPONSE_S:.0f} s")

    def _on_control(self, _char, data: bytearray) -> None:
        try:
            self._responses.put_nowait(dfu.Response.decode(bytes(data)))
        except DecodeError as exc:
            log.warning("malformed DFU response: %s", exc)

    def _on_status(self, _char, data: bytearray) -> None:
        self._alive()
        try:
            self._receipts.put_nowait(dfu.Status.decode(bytes(data)))
        except DecodeError as exc:
            log.warning("malformed DFU status: %s", exc)


def _drain(q: asyncio.Queue) -> None:
    while not q.empty():
        q.get_nowait()
