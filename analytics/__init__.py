"""Health analytics as plain functions on numpy arrays."""
