"""Embedded services for a machine with nothing installed: PostgreSQL and a broker."""
