"""The composition root: the `bandhub` CLI, the demo, service wiring and embedded services."""
