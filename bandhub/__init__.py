"""bandhub: wristband companion and device-data ingestion service."""

__version__ = "0.1.0"
