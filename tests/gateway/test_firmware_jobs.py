"""The gateway's firmware updates in hand, without a radio: what it accepts, when an
update is due, and that an update survives a gateway restart at the stage it reached
(so a transfer resumes instead of starting over)."""

from __future__ import annotations

import json

from bandhub.contracts import dfu
from bandhub.contracts.messages import CommandRequest, Topics
from gateway.firmware_jobs import FirmwareJobs
from gateway.state import GatewayState
from tests.firmware_images import signed_image

NOW = 1_800_000_000.0


def request(cmd_id: str, version: str = "1.1.0", ttl_s: float = 3600, **args) -> CommandRequest:
    image, signature = signed_image(version, size=4096)
    return CommandRequest(v=1, id=cmd_id, cmd="firmware_update", ttl_s=ttl_s, issued_at=NOW,
                          args={**dfu.update_args(version, image, signature), **args})  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def jobs_on(path, clock: Clock, results: list) -> FirmwareJobs:
    return FirmwareJobs(
        GatewayState(path), Topics(), lambda _t, payload: results.append(json.loads(payload)),
        clock=clock,
    )  # fmt: skip


def test_an_update_waits_for_its_time_and_survives_a_restart(tmp_path):
    clock, results = Clock(), []
    jobs = jobs_on(tmp_path / "gw.sqlite", clock, results)
    jobs.add("BH-0001", request("fw-1", not_before=NOW + 600))
    assert jobs.due("BH-0001") is None  # scheduled for later
    clock.now += 601
    job = jobs.due("BH-0001")
    assert job is not None and job.version == "1.1.0"
    jobs.progress(job, "transferring", offset=2400, chunk=240, resumes=0)

    again = jobs_on(tmp_path / "gw.sqlite", clock, results)  # the gateway restarted
    job = again.due("BH-0001")
    assert job is not None and (job.stage, job.progress["offset"]) == ("transferring", 2400)
    again.progress(job, "updated", detail="runs 1.1.0")
    assert results == [{"v": 1, "id": "fw-1", "band_id": "BH-0001", "status": "ok",
                        "detail": "runs 1.1.0"}]  # fmt: skip
    assert jobs_on(tmp_path / "gw.sqlite", clock, results).pending("BH-0001") is None


def test_an_image_that_does_not_match_its_hash_is_invalid(tmp_path):
    clock, results = Clock(), []
    jobs = jobs_on(tmp_path / "gw.sqlite", clock, results)
    bad = request("fw-2")
    bad.args["sha256"] = "00" * 32
    jobs.add("BH-0001", bad)
    assert jobs.pending("BH-0001") is None
    assert results[0]["status"] == "invalid" and "sha256" in results[0]["detail"]


def test_a_newer_update_replaces_the_waiting_one_and_an_unstarted_one_expires(tmp_path):
    clock, results = Clock(), []
    jobs = jobs_on(tmp_path / "gw.sqlite", clock, results)
    jobs.add("BH-0001", request("fw-3"))
    jobs.add("BH-0001", request("fw-4", version="1.2.0", ttl_s=60))
    assert [(r["id"], r["status"]) for r in results] == [("fw-3", "failed")]
    assert "replaced by fw-4" in results[0]["detail"]
    clock.now += 61
    jobs.expire()
    assert (results[-1]["id"], results[-1]["status"]) == ("fw-4", "expired")
    assert jobs.last["BH-0001"]["state"] == "expired"


def test_an_update_under_way_outlives_its_ttl_but_not_by_a_day(tmp_path):
    clock, results = Clock(), []
    jobs = jobs_on(tmp_path / "gw.sqlite", clock, results)
    jobs.add("BH-0001", request("fw-5", ttl_s=60))
    job = jobs.due("BH-0001")
    assert job is not None
    jobs.progress(job, "activating")
    clock.now += 3600
    jobs.expire()
    assert results == [] and jobs.pending("BH-0001") is not None  # the band may come back
    clock.now += 86400
    jobs.expire()
    assert (results[-1]["status"], results[-1]["detail"]) == (
        "failed",
        "band not back since activating",
    )
