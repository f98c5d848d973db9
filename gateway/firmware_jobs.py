"""Firmware updates in hand (docs/mqtt.md, "Firmware update"): one per band, kept in
the gateway's state file until the band runs the new version, refuses the image, or
the update's time to live runs out, so a dropped link or a gateway restart resumes
it instead of starting over. Each ends in exactly one command result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bandhub.contracts.messages import CommandRequest, CommandResult, FirmwareProgress, Topics
from gateway.state import GatewayState

log = logging.getLogger(__name__)

_GRACE_S = 86400.0  # an update under way may outlive its time to live by this much
_FINAL = {"updated": "ok", "refused": "failed", "rolled_back": "failed", "failed": "failed"}


class BadUpdate(ValueError):
    """The update command cannot be carried out as sent (answered ``invalid``)."""


@dataclass
class FirmwareJob:
    band_id: str
    request: CommandRequest
    version: str
    image: bytes
    sha256: bytes
    signature: bytes
    not_before: float
    expires_at: float
    progress: dict = field(default_factory=dict)  # FirmwareProgress fields

    @property
    def stage(self) -> str:
        return self.progress.get("state", "waiting")


def parse_update(band_id: str, req: CommandRequest, now: float) -> FirmwareJob:
    """The job a ``firmware_update`` command describes; BadUpdate if the image does not
    match its announced size and SHA-256 (the band checks the signature itself)."""
    a = req.args
    try:
        image = base64.b64decode(a["image_b64"], validate=True)
        sha, sig = bytes.fromhex(a["sha256"]), bytes.fromhex(a["signature"])
        version = str(a["version"])
        not_before = float(a.get("not_before") or 0)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        needs = "firmware_update needs version, image_b64, sha256, signature"
        raise BadUpdate(f"{needs}: {exc}") from exc
    if hashlib.sha256(image).digest() != sha or len(sha) != 32:
        raise BadUpdate("the image does not match its sha256")
    if len(sig) != 64:
        raise BadUpdate("an Ed25519 signature is 64 bytes")
    if int(a.get("size", len(image))) != len(image):
        raise BadUpdate(f"size says {a.get('size')}, the image has {len(image)} bytes")
    expires = (req.issued_at or now) + req.ttl_s
    progress = _progress(version, "waiting", size=len(image))
    return FirmwareJob(band_id, req, version, image, sha, sig, not_before, expires, progress)


def _progress(version: str, state: str, **fields: Any) -> dict:
    return {"version": version, "state": state, "at": time.time(), **fields}


class FirmwareJobs:
    def __init__(
        self,
        state: GatewayState,
        topics: Topics,
        publish: Callable[[str, str], Any],
        on_change: Callable[[str], None] = lambda _band_id: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``publish(topic, payload)`` sends a command result; ``on_change(band_id)`` is
        told when an update's progress changes (the band's status is re-published)."""
        self._state = state
        self._topics = topics
        self._publish = publish
        self._on_change = on_change
        self._clock = clock
        self.jobs: dict[str, FirmwareJob] = {}
        self.last: dict[str, dict] = {}  # band id -> the latest progress, also once ended
        for band_id, request, _expires, progress in state.firmware_jobs():
            req = CommandRequest.model_validate_json(request)
            try:
                job = parse_update(band_id, req, clock())
            except BadUpdate:
                state.remove_firmware_job(band_id)
                continue
            job.progress = json.loads(progress)
            self.jobs[band_id] = job
            self.last[band_id] = job.progress

    def add(self, band_id: str, req: CommandRequest) -> None:
        """A ``firmware_update`` command arrived: keep it until it is done."""
        try:
            job = parse_update(band_id, req, self._clock())
        except BadUpdate as exc:
            self._result(band_id, req.id, "invalid", str(exc))
            return
        if (old := self.jobs.get(band_id)) is not None and old.request.id != req.id:
            self._result(band_id, old.request.id, "failed", f"replaced by {req.id}")
        self._state.put_firmware_job(
            band_id, req.model_dump_json(), job.expires_at, json.dumps(job.progress)
        )
        self.jobs[band_id] = job
        self.last[band_id] = job.progress
        log.info(
            "band %s: firmware %s (%d bytes) to install%s", band_id, job.version, len(job.image),
            f" from {time.strftime('%H:%M UTC', time.gmtime(job.not_before))}"
            if job.not_before > self._clock() else "",
        )  # fmt: skip
        self._on_change(band_id)

    def due(self, band_id: str) -> FirmwareJob | None:
        """The band's update, if its time has come (not before ``not_before``)."""
        job = self.jobs.get(band_id)
        if job is None or job.not_before > self._clock():
            return None
        return job

    def pending(self, band_id: str) -> FirmwareJob | None:
        return self.jobs.get(band_id)

    def progress(self, job: FirmwareJob, state: str, **fields: Any) -> None:
        """Record where the update stands (durably: a restart picks up its stage)."""
        fresh = ("version", "state", "at", "detail")
        keep = {k: v for k, v in job.progress.items() if k not in fresh}
        job.progress = _progress(job.version, state, **{**keep, **fields})
        FirmwareProgress.model_validate(job.progress)
        self.last[job.band_id] = job.progress
        if state in _FINAL:
            self._finish(job)
        else:
            self._state.save_firmware_progress(job.band_id, json.dumps(job.progress))
        self._on_change(job.band_id)

    def _finish(self, job: FirmwareJob) -> None:
        self.jobs.pop(job.band_id, None)
        self._state.remove_firmware_job(job.band_id)
        p = job.progress
        log.info(
            "band %s: firmware %s %s: %s (%d bytes, %d-byte chunks, %.2f s over the link,"
            " %d resume(s))",
            job.band_id, job.version, p["state"], p.get("detail", ""), p.get("size", 0),
            p.get("chunk", 0), p.get("transfer_s", 0.0), p.get("resumes", 0),
        )  # fmt: skip
        self._result(job.band_id, job.request.id, _FINAL[p["state"]], p.get("detail", ""))

    def expire(self) -> None:
        """Updates whose time to live passed before they started are answered
        ``expired``; one under way when it passes is finished first, unless the band
        stays away for a day more (then ``failed``)."""
        now = self._clock()
        for job in list(self.jobs.values()):
            if now > job.expires_at + _GRACE_S and job.stage != "waiting":
                self.progress(job, "failed", detail=f"band not back since {job.stage}")
                continue
            if now > job.expires_at and job.stage == "waiting":
                self.jobs.pop(job.band_id)
                self._state.remove_firmware_job(job.band_id)
                self.last[job.band_id] = _progress(job.version, "expired", size=len(job.image))
                self._result(job.band_id, job.request.id, "expired", "band not updated in time")
                self._on_change(job.band_id)

    def _result(self, band_id: str, cmd_id: str, status: str, detail: str) -> None:
        result = CommandResult(v=1, id=cmd_id, band_id=band_id, status=status, detail=detail)
        self._publish(self._topics.command_result(band_id), result.model_dump_json())
