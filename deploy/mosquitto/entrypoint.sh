#!/bin/sh
# The dynamic-security file was written by `bandhub broker init` (compose service
# broker-init); hand it to the broker's user, then run the broker.
set -e
f=/mosquitto/data/dynamic-security.json
test -f "$f" || { echo "missing $f: run bandhub broker init first" >&2; exit 1; }
chown mosquitto "$f" 2>/dev/null || true
chmod 0600 "$f"
exec mosquitto -c /mosquitto/config/mosquitto.conf
