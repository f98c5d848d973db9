"""Alerts: the lifecycle (store), the rule monitor, delivery (dispatcher, channels)."""
