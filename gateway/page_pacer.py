"""How many records to ask a band for at once, and how long to wait for them.

A fixed page size and time limit fit one kind of link only: 400 records take well
under a second at MTU 247, and over a minute on a BLE 4.x link at MTU 23 sending
about 200 B/s. The pacer measures what each page really took and sizes the next one
to last about ``target_s``; a page is given up when no byte of it arrived for
``stall_s`` (the link is gone), or when it runs far longer than its size at the
measured rate (the band trickles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_PAGE = 32  # records: the link is unknown until one page has come through
MIN_PAGE = 4
GROWTH = 4.0  # at most this many times the previous page


@dataclass
class PagePacer:
    max_size: int
    stall_s: float = 6.0
    target_s: float = 5.0
    size: int = field(init=False)
    rate_bps: float | None = None  # Log Data bytes per second, smoothed
    bytes_per_record: float = 40.0

    def __post_init__(self) -> None:
        self.size = min(self.max_size, FIRST_PAGE)

    def page_done(self, nbytes: int, records: int, seconds: float) -> None:
        """A page of ``records`` (``nbytes`` of frames) took ``seconds``, request to response."""
        if records <= 0 or nbytes <= 0 or seconds <= 0:
            return
        rate = nbytes / seconds
        self.rate_bps = rate if self.rate_bps is None else 0.5 * (self.rate_bps + rate)
        self.bytes_per_record = nbytes / records
        fits = int(self.rate_bps * self.target_s / self.bytes_per_record)
        self.size = max(MIN_PAGE, min(self.max_size, fits, int(self.size * GROWTH)))

    def time_limit_s(self) -> float:
        """The longest a page of ``size`` may take at the measured rate (generously)."""
        if self.rate_bps is None:
            return self.stall_s + 120.0
        return self.stall_s + 3.0 * self.size * self.bytes_per_record / self.rate_bps
