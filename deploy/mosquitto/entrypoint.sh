#!/bin/sh
# Create the password file from the environment, then run the broker.
set -e
: "${MQTT_USER:?}" "${MQTT_PASSWORD:?}"
mosquitto_passwd -b -c /mosquitto/config/passwd "$MQTT_USER" "$MQTT_PASSWORD"
chown mosquitto /mosquitto/config/passwd 2>/dev/null || true
chmod 0700 /mosquitto/config/passwd
exec mosquitto -c /mosquitto/config/mosquitto.conf
