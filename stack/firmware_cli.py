"""``bandhub firmware``: the vendor's and operator's side of firmware updates (sign an
image, put it in the catalogue, roll it out, pause and resume it, remind bands). The
same operations are API routes for bandhub support (docs: README, "Firmware updates").
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer

from bandhub.settings import get_settings
from stack.cli_support import fail, with_db

firmware_app = typer.Typer(help="Firmware catalogue and rollout.", no_args_is_help=True)


def _show(r: dict) -> str:
    rollout = {"percent": f"{r['rollout_percent']} %", "group": f"group {r['rollout_group']}"}
    how = rollout.get(r["rollout"], r["rollout"])
    paused = " PAUSED" if r["paused"] else ""
    return (f"release {r['id']}: {r['model']} {r['version']} ({r['size']} bytes,"
            f" sha256 {r['sha256'][:16]}…) rollout {how}{paused}")  # fmt: skip


async def _remind(conn) -> list[str]:
    from api.command_publisher import CommandPublisher
    from api.errors import ApiError
    from api.firmware import remind

    publisher = CommandPublisher(get_settings())
    try:
        return await remind(conn, publisher)
    except ApiError as exc:
        typer.echo(f"reminders not sent: {exc.message}", err=True)
        return []
    finally:
        publisher.close()


@firmware_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="Where to write the private key (PEM)")],
) -> None:
    """Make the vendor's Ed25519 signing key; prints the public key for
    BANDHUB_FIRMWARE_PUBLIC_KEY and for the bands."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from bandhub.contracts import dfu

    if out.exists():
        fail(f"{out} exists: not overwriting a signing key")
    key = Ed25519PrivateKey.generate()
    out.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    out.chmod(0o600)
    typer.echo(f"public key: {dfu.public_bytes(key).hex()}")


@firmware_app.command("build")
def build(
    out: Path,
    version: Annotated[str, typer.Option(help="e.g. 1.1.0")],
    model: Annotated[str, typer.Option(help="the band's Model Number")] = "BH-1",
    size: Annotated[int, typer.Option(help="image bytes (simulated program)")] = 64 * 1024,
    fails_to_boot: Annotated[bool, typer.Option(help="test image: the band rolls back")] = False,
) -> None:
    """A simulated band's image: a real header and random program bytes."""
    from bandhub.contracts import dfu

    header = dfu.ImageHeader(model, version, dfu.FLAG_FAILS_TO_BOOT if fails_to_boot else 0)
    out.write_bytes(dfu.build_image(header, os.urandom(max(size - dfu.HEADER_SIZE, 1))))
    typer.echo(f"{out}: {model} {version}, {out.stat().st_size} bytes")


@firmware_app.command("add")
def add(
    image: Path,
    key: Annotated[Path | None, typer.Option(help="sign with this private key (PEM)")] = None,
    signature: Annotated[
        Path | None, typer.Option(help="or: the vendor's detached signature (64 bytes)")
    ] = None,
    notes_en: Annotated[str, typer.Option(help="release notes, English")] = "",
    notes_zh: Annotated[str, typer.Option(help="release notes, Simplified Chinese")] = "",
) -> None:
    """Put a signed image in the catalogue (not offered to any band until rolled out)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from api.firmware import add_release
    from bandhub.contracts import dfu

    data = image.read_bytes()
    if (key is None) == (signature is None):
        fail("give either --key or --signature")
    if key is not None:
        private = load_pem_private_key(key.read_bytes(), password=None)
        sig = dfu.sign(private, data)  # type: ignore[arg-type]
    else:
        assert signature is not None
        sig = signature.read_bytes()

    async def work(conn):
        return await add_release(
            conn, data, sig, notes_en, notes_zh, get_settings().firmware_public_key
        )

    typer.echo(_show(asyncio.run(with_db(work))))


@firmware_app.command("list")
def list_releases() -> None:
    """The catalogue, newest version first per model."""
    from api.firmware import releases

    for r in asyncio.run(with_db(releases)):
        typer.echo(_show(r))


def _change(release_id: int, remind: bool, **change) -> None:
    from api.firmware import set_rollout

    async def work(conn):
        row = await set_rollout(conn, release_id, **change)
        await conn.commit()
        told = await _remind(conn) if remind else []
        await conn.commit()
        return row, told

    row, told = asyncio.run(with_db(work))
    typer.echo(_show(row))
    if told:
        typer.echo(f"reminded {len(told)} band(s): {', '.join(told)}")


@firmware_app.command("rollout")
def rollout(
    release_id: int,
    all_bands: Annotated[bool, typer.Option("--all", help="every band of the model")] = False,
    percent: Annotated[int | None, typer.Option(help="this share of the bands, 0-100")] = None,
    group: Annotated[str | None, typer.Option(help="the bands of this named group")] = None,
    none: Annotated[bool, typer.Option("--none", help="offer it to no band")] = False,
) -> None:
    """Offer a release to all bands, a percentage (a stable hash of the band id), or a
    group; bands it newly reaches are reminded."""
    chosen = [m for m, on in (("all", all_bands), ("percent", percent is not None),
                              ("group", group is not None), ("none", none)) if on]  # fmt: skip
    if len(chosen) != 1:
        fail("choose one of --all, --percent N, --group NAME, --none")
    _change(release_id, True, mode=chosen[0], percent=percent, group=group)


@firmware_app.command("pause")
def pause(release_id: int) -> None:
    """Stop offering a release (bands already updating finish)."""
    _change(release_id, False, paused=True)


@firmware_app.command("resume")
def resume(release_id: int) -> None:
    """Offer a paused release again."""
    _change(release_id, True, paused=False)


@firmware_app.command("group")
def group(name: str, band_ids: list[str]) -> None:
    """Make the named rollout group exactly these bands."""
    from api.firmware import set_group

    async def work(conn):
        n = await set_group(conn, name, band_ids)
        await conn.commit()
        return n

    typer.echo(f"group {name}: {asyncio.run(with_db(work))} band(s)")


@firmware_app.command("remind")
def remind() -> None:
    """Tell every band with an update on offer (once per release; run it from cron)."""

    async def work(conn):
        told = await _remind(conn)
        await conn.commit()
        return told

    told = asyncio.run(with_db(work))
    typer.echo(f"reminded {len(told)} band(s)" + (f": {', '.join(told)}" if told else ""))
