"""Fall alerts: delivery of the outbox rows ingest writes, as signed webhooks."""
