"""A simulated bandhub band: a real BLE peripheral on the bumble host stack.

``physiology`` makes a seeded day of signals (and knows its ground truth),
``record_log`` is the band's sequence-numbered storage, ``band`` serves the GATT
profile of docs/gatt.md, and ``runner`` runs several bands on one virtual link.
"""
