"""The retained per-device status support sees (docs/mqtt.md, "Band status"): sent
when a device connects, drops or fails, and every 30 s while it stays connected."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from bandhub.contracts.messages import BandStatus, FirmwareProgress, Topics
from gateway.links import BandLink
from gateway.session import RecordLogSession

EVERY_S = 30.0


class StatusReporter:
    def __init__(
        self,
        gateway_id: str,
        topics: Topics,
        stored_cursor: Callable[[str], int],
        publish: Callable[..., Any],
        clock: Callable[[], float] = time.monotonic,
        firmware: Callable[[str], dict | None] = lambda _band_id: None,
    ) -> None:
        """``stored_cursor(band_id)`` is the durable next seq; ``publish(topic, payload,
        retain=True)`` sends a status."""
        self.gateway_id = gateway_id
        self.topics = topics
        self._stored_cursor = stored_cursor
        self._publish = publish
        self._clock = clock
        self._firmware = firmware  # the band's latest firmware update progress

    def report(self, link: BandLink) -> None:
        """Publish the link's status now; only for identified devices."""
        if not link.band_id:
            return
        status = band_status(link, self.gateway_id, self._stored_cursor(link.band_id))
        if (update := self._firmware(link.band_id)) is not None:
            status = status.model_copy(update={"update": FirmwareProgress.model_validate(update)})
        link.status_at = self._clock()
        self._publish(self.topics.band_status(link.band_id), status.model_dump_json(), retain=True)

    def refresh(self, links: Iterable[BandLink]) -> None:
        """Re-publish connected links whose last status is older than EVERY_S."""
        now = self._clock()
        for link in links:
            if link.session is not None and now - link.status_at >= EVERY_S:
                self.report(link)


def band_status(link: BandLink, gateway_id: str, stored_cursor: int) -> BandStatus:
    """The link's status; ``stored_cursor`` is the durable next seq, which is what a
    device without a record log (or one not connected) reports."""
    session = link.session
    st = session.stats if session else None
    if isinstance(session, RecordLogSession):
        next_seq, backlog = session.cursor, session.backlog
    else:
        next_seq, backlog = stored_cursor, 0
    return BandStatus(
        v=1,
        band_id=link.band_id,
        gateway_id=gateway_id,
        connected=session is not None,
        at=time.time(),
        address=link.address,
        rssi_dbm=link.rssi,
        firmware=st.firmware if st else "",
        model=st.model if st else "",
        battery_percent=st.battery if st else None,
        clock_offset_s=round(st.clock_offset_s, 3) if st else None,
        next_seq=next_seq,
        backlog=backlog,
        records_spooled=st.records_spooled if st else 0,
        rejected=st.rejected if st else 0,
        reconnects=link.reconnects,
        last_error=link.last_error,
        history=list(link.history),
    )
