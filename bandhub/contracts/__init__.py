"""Wire contracts shared by both ends of every wire (GATT and MQTT).

The band simulator and the gateway import the GATT codec from here; the gateway and
ingest import the MQTT message schema from here. Nothing else defines bytes on a wire.
"""
