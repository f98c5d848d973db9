"""Signed firmware images for tests: the vendor's key is made once per test run."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bandhub.contracts import dfu

VENDOR = Ed25519PrivateKey.generate()
VENDOR_PUBLIC = dfu.public_bytes(VENDOR)


def signed_image(
    version: str, size: int = 48 * 1024, flags: int = 0, model: str = "BH-1"
) -> tuple[bytes, bytes]:
    """(image, Ed25519 signature) of a random program behind a real header."""
    header = dfu.ImageHeader(model, version, flags)
    image = dfu.build_image(header, os.urandom(size - dfu.HEADER_SIZE))
    return image, dfu.sign(VENDOR, image)
