"""The BLE gateway: wristbands and heart-rate straps in, MQTT out (docs/gatt.md, docs/mqtt.md).

* ``service``: the lifecycle owner — scans, keeps one link task per device, resets a quiet radio.
* ``session``: the ``DeviceSession`` protocol every connected device is driven through;
  ``session_kinds`` tells the kind from an advertisement and makes its session;
  ``band_session`` / ``strap_session`` are the two kinds, ``band_commands`` what a
  command writes to a band.
* ``command_relay``: commands from MQTT to bands (queued with a time to live), results back.
* ``state`` (durable cursors and spool), ``records`` (records to messages),
  ``spool_drain`` (spool to broker), ``mqtt_publisher`` (acked publishes).
* ``links`` (per-device bookkeeping and status), ``watchdog``, ``metrics``, ``pairing``,
  ``backend`` / ``bumble_backend`` (which bleak backend drives the radio).
"""
