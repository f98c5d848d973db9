"""A third-party band for the conformance suite, written from docs/gatt.md alone.

It speaks bumble directly and builds every frame with ``struct`` from the tables in
the document: it deliberately uses neither ``firmware_sim`` nor the contract codec
(``bandhub.contracts.gatt``), so a test passing here shows the document suffices.
``Quirks`` switch on the ways real third-party firmware departs from the ideal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import struct
import time
from dataclasses import dataclass, field

from bumble.att import Attribute
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from bandhub.bumble_keys import BlindMemoryKeyStore  # the virtual radio's bond lookup

VENDOR = "6b1d{:04x}-7a3c-4f0e-9a51-0c2b6e8d4f10"
HEART_RATE, EPOCH, BATTERY = 0x01, 0x02, 0x05
UNKNOWN_TYPE = 0x0B  # a record type from a newer firmware
NEVER_SET_CLOCK = 6_190_177.0  # 1970-03-13: what a band without a clock set says
P = Characteristic.Properties


@dataclass
class Quirks:
    """How this band departs from an ideal one (all off: a band by the book)."""

    mtu: int = 247  # the largest ATT MTU the band accepts (23: a BLE 4.x band)
    notifications_per_s: float | None = None  # Log Data pacing (None: as fast as it can)
    uuid_in_scan_response: bool = False  # vendor UUID only in the scan response
    log_status_notify: bool = True  # False: Log Status is read-only, never notified
    last_seq_skew: int = 0  # REPORT_FROM responses name last_seq + this
    clock_unset: bool = False  # the clock starts in 1970 and runs until set
    optional_services: bool = True  # False: only the mandatory characteristics
    unknown_type_every: int = 0  # every n-th record has a type the gateway does not know
    wrong_size_every: int = 0  # every n-th record's payload is one byte short
    reboot_after_notifications: int | None = None  # reboots in its first transfer
    vanish_after_notifications: int | None = None  # its radio goes away in a transfer
    vanish_for_s: float = 10.0  # ... and comes back after this long


@dataclass
class Made:
    """One record the band made: what the database must end up holding."""

    seq: int
    kind: int
    true_t: float  # real time it was made (the band's clock may be wrong)
    frame: bytes
    decodable: bool


@dataclass
class ConformanceBand:
    link: LocalLink
    serial: str
    address: str
    quirks: Quirks = field(default_factory=Quirks)

    def __post_init__(self) -> None:
        self.clock_error = (NEVER_SET_CLOCK - time.time()) if self.quirks.clock_unset else 0.0
        self.made: list[Made] = []
        self.log: dict[int, bytes] = {}
        self.next_seq = 1000  # a band need not start at 0
        self.events: list[str] = []
        self.requests: list[tuple[int, int]] = []  # (from_seq, max_count) of each REPORT_FROM
        self.transfers: list[tuple[float, float, int]] = []  # (start, end, bytes), complete ones
        self.connection: Connection | None = None
        self._transfer: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._notifications = 0
        self.controller = Controller(f"ctl-{self.serial}", link=self.link,
                                     public_address=self.address)  # fmt: skip
        self.controller.le_acl_data_packet_length = 251
        host = Host(self.controller, AsyncPipeSink(self.controller))
        self.device = Device(name=self.serial, address=Address(self.address), host=host)
        self.device.keystore = BlindMemoryKeyStore()
        self.device.gatt_server.max_mtu = self.quirks.mtu
        self._build_gatt()
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)

    # --- what the tests drive ----------------------------------------------------------
    def band_now(self) -> float:
        return time.time() + self.clock_error

    def make(self, count: int, spacing_s: float = 5.0) -> None:
        """Make ``count`` records, the last one now, ``spacing_s`` apart (band clock)."""
        now = time.time()
        for i in range(count):
            true_t = now - (count - 1 - i) * spacing_s
            self._append(true_t)
        self._spawn(self._notify_status())

    async def start(self) -> None:
        await self.device.power_on()
        await self._advertise()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self._drop()

    @property
    def held(self) -> int:
        return len(self.log)

    # --- records, as the frame table of docs/gatt.md says ------------------------------
    def _append(self, true_t: float) -> None:
        seq = self.next_seq
        self.next_seq += 1
        n = len(self.made) + 1
        kind = (HEART_RATE, EPOCH, HEART_RATE, BATTERY)[n % 4]
        payload = {
            HEART_RATE: bytes([0x16, 60 + n % 40]) + struct.pack("<2H", 1000, 1010),
            EPOCH: struct.pack("<HHHBB", n % 120, 300 + n, 40, 70, 0x01),
            BATTERY: bytes([90 - n % 50]),
        }[kind]
        decodable = True
        if self.quirks.unknown_type_every and n % self.quirks.unknown_type_every == 0:
            kind, decodable = UNKNOWN_TYPE, False
        elif self.quirks.wrong_size_every and n % self.quirks.wrong_size_every == 0:
            kind, payload, decodable = EPOCH, payload[:5] + b"\x00", False  # 6 of 8 bytes
        band_t = int(true_t + self.clock_error)
        frame = struct.pack("<HIBI", len(payload), seq, kind, band_t) + payload
        self.log[seq] = frame
        self.made.append(Made(seq, kind, true_t, frame, decodable))

    # --- GATT ---------------------------------------------------------------------------
    def _build_gatt(self) -> None:
        def char(uuid: str, props, read=None, write=None, value: bytes = b"") -> Characteristic:
            perms = Attribute.Permissions(0)
            perms |= Attribute.Permissions.READABLE if read or value else 0
            perms |= Attribute.Permissions.WRITEABLE if write else 0
            if read or write:
                return Characteristic(uuid, props, perms, CharacteristicValue(read, write))
            return Characteristic(uuid, props, perms, value)

        def sig(short: int) -> str:
            return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"

        status_props = P.READ | (P.NOTIFY if self.quirks.log_status_notify else 0)
        self.current_time = char(sig(0x2A2B), P.READ | P.WRITE | P.NOTIFY,
                                 read=self._read_time, write=self._write_time)  # fmt: skip
        self.log_status = char(VENDOR.format(3), status_props, read=lambda _c: self._status())
        self.log_data = char(VENDOR.format(4), P.NOTIFY)
        self.log_control = char(VENDOR.format(5), P.WRITE | P.INDICATE, write=self._on_log_ctl)
        self.control_point = char(VENDOR.format(6), P.WRITE | P.INDICATE, write=self._on_cmd)
        info = [char(sig(0x2A25), P.READ, value=self.serial.encode())]
        vendor = [self.log_status, self.log_data, self.log_control]
        services = [Service(sig(0x1805), [self.current_time])]
        if self.quirks.optional_services:
            info += [char(sig(0x2A29), P.READ, value=b"Acme"),
                     char(sig(0x2A26), P.READ, value=b"acme-2.1")]  # fmt: skip
            vendor.append(self.control_point)
            services += [
                Service(sig(0x180F), [char(sig(0x2A19), P.READ | P.NOTIFY, value=b"\x55")]),
                Service(sig(0x1811), [char(sig(0x2A46), P.WRITE | P.NOTIFY,
                                           write=lambda _c, v: self.events.append("alert"))]),
            ]  # fmt: skip
        services += [Service(sig(0x180A), info), Service(VENDOR.format(1), vendor)]
        self.device.add_services(services)

    def _read_time(self, _conn) -> bytes:
        now = dt.datetime.fromtimestamp(self.band_now(), dt.UTC)
        frac = now.microsecond * 256 // 10**6
        fields = (now.year, now.month, now.day, now.hour, now.minute, now.second)
        return struct.pack("<HBBBBBBBB", *fields, now.isoweekday(), frac, 0)

    def _write_time(self, _conn, value: bytes) -> None:
        y, mo, d, h, mi, s, _dow, frac, _reason = struct.unpack("<HBBBBBBBB", bytes(value))
        new = dt.datetime(y, mo, d, h, mi, s, frac * 10**6 // 256, tzinfo=dt.UTC).timestamp()
        self.clock_error = new - time.time()
        self.events.append("clock_set")

    def _status(self) -> bytes:
        first = min(self.log) if self.log else self.next_seq
        return struct.pack("<II", first, self.next_seq)

    async def _notify_status(self) -> None:
        if self.quirks.log_status_notify and (conn := self.connection) is not None:
            with contextlib.suppress(Exception):
                await self.device.notify_subscriber(conn, self.log_status, self._status())

    def _on_log_ctl(self, conn: Connection, value: bytes) -> None:
        value = bytes(value)
        if value[:1] == b"\x01" and len(value) == 7:
            from_seq, max_count = struct.unpack("<IH", value[1:])
            self.requests.append((from_seq, max_count))
            if self._transfer and not self._transfer.done():
                self._respond(conn, 0x01, 0x04, 0, 0)  # busy
            else:
                self._transfer = asyncio.create_task(self._report(conn, from_seq, max_count))
        elif value[:1] == b"\x02" and len(value) == 5:
            (through,) = struct.unpack("<I", value[1:])
            if through >= self.next_seq:  # beyond what exists: refuse, delete nothing
                self._respond(conn, 0x02, 0x02, 0, 0)
                return
            gone = [s for s in self.log if s <= through]
            for s in gone:
                del self.log[s]
            self._respond(conn, 0x02, 0x00, through, min(len(gone), 0xFFFF))
        else:
            self._respond(conn, value[0] if value else 0, 0x03, 0, 0)

    async def _report(self, conn: Connection, from_seq: int, max_count: int) -> None:
        seqs = sorted(s for s in self.log if s >= from_seq)[: max_count or 0]
        if not seqs:
            await self._indicate(conn, 0x01, 0x01, 0, 0)
            return
        stream = b"".join(self.log[s] for s in seqs)
        started = time.monotonic()
        size = conn.att_mtu - 3
        for i in range(0, len(stream), size):
            await self.device.notify_subscriber(conn, self.log_data, stream[i : i + size])
            self._notifications += 1
            if self._notifications == self.quirks.reboot_after_notifications:
                self._spawn(self.reboot())
                return
            if self._notifications == self.quirks.vanish_after_notifications:
                self._spawn(self.vanish(self.quirks.vanish_for_s))
                return
            if self.quirks.notifications_per_s:
                await asyncio.sleep(1 / self.quirks.notifications_per_s)
        last = seqs[-1] + self.quirks.last_seq_skew
        await self._indicate(conn, 0x01, 0x00, last, len(seqs))
        self.transfers.append((started, time.monotonic(), len(stream)))

    def _on_cmd(self, conn: Connection, value: bytes) -> None:
        op = bytes(value)[0]
        self.events.append(f"command 0x{op:02x}")
        status = 0x00 if op <= 9 else 0x01  # known opcodes succeed, others are unsupported
        self._spawn(self._send(conn, self.control_point, bytes([0x80, op, status])))

    def _respond(self, conn: Connection, op: int, status: int, last: int, count: int) -> None:
        self._spawn(self._indicate(conn, op, status, last, count))

    async def _indicate(self, conn: Connection, op: int, status: int, last: int, count: int):
        await self._send(conn, self.log_control, struct.pack("<BBBIH", 0x80, op, status, last,
                                                             count))  # fmt: skip

    async def _send(self, conn: Connection, char: Characteristic, value: bytes) -> None:
        with contextlib.suppress(Exception):  # the gateway may be gone
            await self.device.indicate_subscriber(conn, char, value)

    # --- radio --------------------------------------------------------------------------
    async def _advertise(self) -> None:
        vendor = (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                  bytes(UUID(VENDOR.format(1))))  # fmt: skip
        name = (AdvertisingData.COMPLETE_LOCAL_NAME, self.serial.encode()[:8])
        flags = (AdvertisingData.FLAGS, b"\x06")
        hr = (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x0d\x18")
        if self.quirks.uuid_in_scan_response:
            adv, rsp = [flags, name], [vendor]
        else:
            adv, rsp = [flags, vendor, name], [hr]
        await self.device.start_advertising(
            advertising_data=bytes(AdvertisingData(adv)),
            scan_response_data=bytes(AdvertisingData(rsp)),
            auto_restart=True, advertising_interval_min=20.0, advertising_interval_max=20.0,
        )  # fmt: skip

    def _on_connection(self, connection: Connection) -> None:
        self.connection = connection
        self.events.append("connected")
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        self.connection = None
        self.events.append("disconnected")
        if self._transfer:
            self._transfer.cancel()

    async def _drop(self) -> None:
        if (conn := self.connection) is not None:
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(conn.disconnect(), 3.0)

    async def reboot(self) -> None:
        """Restart mid-transfer: the link ends, the log and its numbering survive."""
        self.events.append("reboot")
        await self._drop()

    async def vanish(self, for_s: float) -> None:
        """The radio goes away without a goodbye (out of range, battery pulled), then
        comes back: the old link ends as a supervision timeout would end it."""
        self.events.append("vanished")
        self.link.remove_controller(self.controller)
        await asyncio.sleep(for_s)
        self.link.add_controller(self.controller)
        await self._drop()
        if self.connection is not None:
            self._on_disconnection(0x08)
        if not self.device.is_advertising:
            await self._advertise()
        self.events.append("back")

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
