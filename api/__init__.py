"""The bandhub HTTP API (FastAPI)."""
