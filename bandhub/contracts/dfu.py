"""The firmware update (DFU) service of docs/gatt.md, "Firmware update", and the image
format: one codec for the band, the gateway and the server's catalogue.

An image is a 64-byte header (magic, format, flags, model, version) and the program;
the vendor signs the whole image with Ed25519 and the band, holding the vendor's
public key, refuses any image whose SHA-256 or signature does not match.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bandhub.contracts.gatt import DecodeError

_BASE = "6b1d{:04x}-7a3c-4f0e-9a51-0c2b6e8d4f10"
DFU_SERVICE = _BASE.format(0x0010)
DFU_CONTROL = _BASE.format(0x0011)  # write, indicate: the procedure
DFU_PACKET = _BASE.format(0x0012)  # write without response: u32 offset + image bytes
DFU_STATUS = _BASE.format(0x0013)  # read, notify: state, confirmed offset, last result

MIN_MTU = 110  # START is 103 bytes in one write (MTU - 3)
PACKET_HEADER = 4  # the u32 offset before each chunk


class DfuOp(IntEnum):
    START = 0x01  # u32 size, 32 B SHA-256, 64 B Ed25519 signature, u16 receipt every N
    VERIFY = 0x02
    ACTIVATE = 0x03  # swap and reboot
    ABORT = 0x04
    RESPONSE = 0x80  # band -> gateway: u8 request op, u8 status, u32 offset


class DfuStatus(IntEnum):
    SUCCESS = 0x00
    UNSUPPORTED = 0x01
    INVALID_OPERAND = 0x02
    BATTERY_LOW = 0x03
    BUSY = 0x04  # an alert is active on the band (fall countdown), or a log transfer
    TOO_LARGE = 0x05
    HASH_MISMATCH = 0x06
    BAD_SIGNATURE = 0x07
    INCOMPLETE = 0x08  # VERIFY before every byte arrived
    INVALID_IMAGE = 0x09  # not an image for this band (header, model)
    NOT_VERIFIED = 0x0A  # ACTIVATE before a successful VERIFY
    NO_TRANSFER = 0x0B  # VERIFY/ACTIVATE/packets without START


class DfuState(IntEnum):
    IDLE = 0
    RECEIVING = 1
    VERIFIED = 2


class LastResult(IntEnum):
    NONE = 0
    UPDATED = 1  # the new image booted
    ROLLED_BACK = 2  # the new image failed to boot; the old one runs again
    REFUSED = 3  # VERIFY failed; the partial image was discarded


_START = struct.Struct("<I32s64sH")
_RESPONSE = struct.Struct("<BBBI")
_STATUS = struct.Struct("<BIB")


@dataclass(frozen=True)
class Start:
    size: int
    sha256: bytes
    signature: bytes
    receipt_every: int  # packets between receipt notifications (0: none)

    def encode(self) -> bytes:
        return bytes([DfuOp.START]) + _START.pack(
            self.size, self.sha256, self.signature, self.receipt_every
        )

    @classmethod
    def decode(cls, operand: bytes) -> Start:
        if len(operand) != _START.size:
            raise DecodeError(f"START operand is {_START.size} bytes, got {len(operand)}")
        return cls(*_START.unpack(operand))


@dataclass(frozen=True)
class Response:
    request: int
    status: DfuStatus
    offset: int = 0

    def encode(self) -> bytes:
        return _RESPONSE.pack(DfuOp.RESPONSE, self.request, self.status, self.offset)

    @classmethod
    def decode(cls, data: bytes) -> Response:
        if len(data) != _RESPONSE.size or data[0] != DfuOp.RESPONSE:
            raise DecodeError(f"not a DFU response: {data.hex()}")
        _op, request, status, offset = _RESPONSE.unpack(data)
        try:
            return cls(request, DfuStatus(status), offset)
        except ValueError as exc:
            raise DecodeError(f"unknown DFU status 0x{status:02x}") from exc


@dataclass(frozen=True)
class Status:
    state: DfuState
    offset: int  # bytes received and kept, in order, of the image being transferred
    last_result: LastResult

    def encode(self) -> bytes:
        return _STATUS.pack(self.state, self.offset, self.last_result)

    @classmethod
    def decode(cls, data: bytes) -> Status:
        if len(data) != _STATUS.size:
            raise DecodeError(f"DFU status is {_STATUS.size} bytes, got {len(data)}")
        state, offset, last = _STATUS.unpack(data)
        try:
            return cls(DfuState(state), offset, LastResult(last))
        except ValueError as exc:
            raise DecodeError(f"unknown DFU state in {data.hex()}") from exc


def encode_packet(offset: int, chunk: bytes) -> bytes:
    return offset.to_bytes(4, "little") + chunk


def decode_packet(data: bytes) -> tuple[int, bytes]:
    if len(data) <= PACKET_HEADER:
        raise DecodeError("a DFU packet is a u32 offset and at least one byte")
    return int.from_bytes(data[:4], "little"), data[4:]


# --- the image ------------------------------------------------------------------------
MAGIC = b"BHFW"
_HEADER = struct.Struct("<4sBB2x24s32s")  # magic, format, flags, model, version
HEADER_SIZE = _HEADER.size  # 64
FLAG_FAILS_TO_BOOT = 0x01  # test images: the simulated band cannot boot it and rolls back


@dataclass(frozen=True)
class ImageHeader:
    model: str
    version: str
    flags: int = 0

    def encode(self) -> bytes:
        model, version = self.model.encode(), self.version.encode()
        if len(model) > 24 or len(version) > 32 or not version:
            raise ValueError("model is at most 24 bytes, version 1-32 bytes (UTF-8)")
        return _HEADER.pack(MAGIC, 1, self.flags, model, version)

    @classmethod
    def decode(cls, image: bytes) -> ImageHeader:
        if len(image) < HEADER_SIZE:
            raise DecodeError(f"an image has a {HEADER_SIZE}-byte header; got {len(image)} bytes")
        magic, fmt, flags, model, version = _HEADER.unpack(image[:HEADER_SIZE])
        if magic != MAGIC or fmt != 1:
            raise DecodeError("not a bandhub firmware image (magic BHFW, format 1)")
        try:
            m, v = model.rstrip(b"\0").decode(), version.rstrip(b"\0").decode()
        except UnicodeDecodeError as exc:
            raise DecodeError("image header: model/version are not UTF-8") from exc
        if not v:
            raise DecodeError("image header: empty version")
        return cls(m, v, flags)


def build_image(header: ImageHeader, program: bytes) -> bytes:
    return header.encode() + program


def sha256(image: bytes) -> bytes:
    return hashlib.sha256(image).digest()


def sign(private_key: Ed25519PrivateKey, image: bytes) -> bytes:
    return private_key.sign(image)


def signature_ok(public_key: bytes, image: bytes, signature: bytes) -> bool:
    """Does ``signature`` (64 bytes) by the holder of ``public_key`` (32 raw bytes) cover
    exactly ``image``?"""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, image)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def version_key(version: str) -> tuple[int, ...]:
    """Numeric parts of a version, for ordering: "1.10.0" > "1.9.2"; "sim-1.0.0" is 1.0.0."""
    parts = []
    for piece in version.replace("-", ".").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if digits:
            parts.append(int(digits))
    return tuple(parts)


def update_args(version: str, image: bytes, signature: bytes, not_before: float = 0) -> dict:
    """The args of a ``firmware_update`` command (docs/mqtt.md): the whole signed image,
    so the gateway holds everything it needs to resume without asking again."""
    import base64

    args = {
        "version": version,
        "size": len(image),
        "sha256": sha256(image).hex(),
        "signature": signature.hex(),
        "image_b64": base64.b64encode(image).decode(),
    }
    if not_before:
        args["not_before"] = not_before
    return args
