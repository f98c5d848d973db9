"""Home Assistant MQTT discovery for the bands their owners chose to expose."""
