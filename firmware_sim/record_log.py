"""The band's record log: sequence-numbered records kept until the gateway has them.

Sequence numbers only go up and survive a reboot (the log lives in "flash", which
here is the simulator process). When full, the oldest records are dropped and
counted, as a band with limited flash must.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from bandhub.contracts.gatt import LogStatus, Record, RecordBody, RecordType


class RecordLog:
    def __init__(self, capacity: int = 200_000) -> None:
        self._records: deque[Record] = deque()
        self._next_seq = 0
        self.capacity = capacity
        self.dropped = 0

    def append(self, rtype: RecordType, t: int, body: RecordBody) -> Record:
        rec = Record(self._next_seq, rtype, t, body)
        self._next_seq += 1
        self._records.append(rec)
        while len(self._records) > self.capacity:
            self._records.popleft()
            self.dropped += 1
        return rec

    @property
    def status(self) -> LogStatus:
        first = self._records[0].seq if self._records else self._next_seq
        return LogStatus(first, self._next_seq)

    def read_from(self, from_seq: int, max_count: int) -> Iterator[Record]:
        """Records with seq >= from_seq, oldest first, at most max_count of them."""
        if not self._records:
            return
        start = max(from_seq - self._records[0].seq, 0)
        for i in range(start, min(start + max_count, len(self._records))):
            yield self._records[i]

    def delete_through(self, seq: int) -> int:
        """Forget records with seq <= ``seq``; returns how many were removed."""
        removed = 0
        while self._records and self._records[0].seq <= seq:
            self._records.popleft()
            removed += 1
        return removed

    def __len__(self) -> int:
        return len(self._records)

    def all_records(self) -> list[Record]:
        return list(self._records)
