"""bumble key stores that find a bond whatever address type the link reports.

bumble files a bond under the peer's identity address (``…/P`` when public), but a
later link to the same device may report the bare address it connected with, and
both the encrypting central and the answering peripheral then miss the bond. A real
controller reports the identity; the virtual one does not, so both ends here look
the bond up by the address alone.
"""

from __future__ import annotations

from bumble.keys import JsonKeyStore, KeyStore, MemoryKeyStore, PairingKeys


def _bare(name: str) -> str:
    return name.removesuffix("/P").upper()


class _AddressTypeBlind(KeyStore):
    async def get(self, name: str) -> PairingKeys | None:
        keys = await super().get(name)
        if keys is not None:
            return keys
        for stored, keys in await self.get_all():
            if _bare(stored) == _bare(name):
                return keys
        return None

    async def delete(self, name: str) -> None:
        for stored, _keys in await self.get_all():
            if _bare(stored) == _bare(name):
                await super().delete(stored)


class BlindMemoryKeyStore(_AddressTypeBlind, MemoryKeyStore):
    """In memory: a band's bonds (they live as long as the simulated band)."""


class BlindJsonKeyStore(_AddressTypeBlind, JsonKeyStore):
    """In a JSON file: a gateway's bonds, which survive its restart."""
