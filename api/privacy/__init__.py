"""The wearer's own data: export (JSON and FHIR), erasure."""
