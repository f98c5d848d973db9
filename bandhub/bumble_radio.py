"""bumble's virtual radio, fixed where it keeps a stale device on the air.

bumble 0.0.236's ``LocalLink`` delivers advertisements and ACL data from a controller
after it was removed from the link (a killed band goes on advertising as a ghost the
gateway connects to), and its ``Controller`` ignores LE Create Connection Cancel, so a
connection attempt to a band that vanished stays pending forever and every later one
is refused with COMMAND_DISALLOWED (0x0C). Here a removed controller is silent, and a
cancel ends the pending attempt as the Core spec says (command complete, then LE
Connection Complete with status 0x02 unknown connection identifier).
"""

from __future__ import annotations

import asyncio

from bumble import core, hci, ll
from bumble.controller import Controller
from bumble.link import LocalLink


class VirtualLink(LocalLink):
    """A ``LocalLink`` on which only the controllers attached to it are heard."""

    def send_advertising_pdu(self, sender_controller: Controller, packet: ll.AdvertisingPdu):
        if sender_controller in self.controllers:
            super().send_advertising_pdu(sender_controller, packet)

    def send_acl_data(self, sender_controller: Controller, destination_address: hci.Address,
                      transport: core.PhysicalTransport, data: bytes):  # fmt: skip
        if sender_controller in self.controllers:
            super().send_acl_data(sender_controller, destination_address, transport, data)


class VirtualController(Controller):
    """A central's virtual controller whose connection attempts can be cancelled."""

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        failed = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0, role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address, connection_interval=0, peripheral_latency=0,
            supervision_timeout=0, central_clock_accuracy=0,
        )  # fmt: skip
        # after the command's own Command Complete, as a real controller sends them
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
