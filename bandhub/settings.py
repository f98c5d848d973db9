"""The one settings object, read from ``BANDHUB_*`` environment variables.

Every component (gateway, ingest, API, demo) takes its configuration from here so
that the same code runs on embedded defaults or against external services.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bandhub.contracts.messages import GeoLocation


class Settings(BaseSettings):
    """Configuration for every bandhub process; unset URLs mean "start an embedded one"."""

    model_config = SettingsConfigDict(env_prefix="BANDHUB_", env_file=".env", extra="ignore")

    # Where services are. Empty means: the demo/run command starts an embedded one.
    database_url: str = Field(
        default="",
        description="PostgreSQL/TimescaleDB URL, e.g. postgresql://user:pw@host:5432/bandhub",
    )
    mqtt_url: str = Field(
        default="", description="Broker URL, e.g. mqtt://user:pw@host:1883 (mqtts:// for TLS)"
    )
    mqtt_admin_url: str = Field(
        default="",
        description="The broker's dynamic-security admin login, e.g."
        " mqtt://bandhub-admin:pw@host:1883, for registering gateways, binding bands and"
        " revoking (empty: the embedded broker's own)",
    )
    gateway_auth: bool = Field(
        default=True,
        description="Gateways are principals: a gateway syncs only the bands bound to it"
        " (its retained bindings message), and ingest dead-letters records of a band from"
        " a gateway not bound to it (docs/mqtt.md, Credentials and ACLs)",
    )
    data_dir: Path = Field(
        default=Path(".bandhub"),
        description="State for embedded services, the gateway spool and bonds",
    )

    # MQTT
    mqtt_topic_prefix: str = "bandhub/v1"

    # Gateway
    gateway_id: str = "gw-local"
    gateway_backend: str = Field(
        default="native",
        description="native (BlueZ/CoreBluetooth/WinRT) or bumble:<hci transport>",
    )
    gateway_name_prefix: str = Field(
        default="", description="Also connect to devices whose name starts with this"
    )
    gateway_set_band_clock: bool = True
    gateway_paired_only: bool = Field(
        default=False,
        description="Connect only to bands paired with `bandhub gateway pair` (else any band)",
    )
    gateway_accept_hr_devices: bool = Field(
        default=False,
        description="Also connect to third-party devices with the standard Heart Rate Service"
        " (off by default: a gateway must not take over a neighbour's strap)",
    )
    gateway_pair: bool = Field(
        default=True, description="Pair/bond (LE Secure Connections) before reading health data"
    )
    gateway_location: str = Field(
        default="",
        description="lat,lon[,accuracy_m] of the gateway, sent in its status and in alerts",
        pattern=r"^$|^-?\d+(\.\d+)?,-?\d+(\.\d+)?(,\d+(\.\d+)?)?$",
    )
    gateway_spool_max_mb: float = Field(
        default=256.0,
        gt=0,
        description="Spool limit while the broker is away; when full the gateway stops"
        " reading bands, which keep their records",
    )
    gateway_watchdog_s: float = Field(
        default=120.0,
        gt=0,
        description="No advertisement and no sign of life from connected bands this long:"
        " the gateway resets its radio links",
    )
    gateway_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Prometheus /metrics port (0: off)"
    )
    gateway_page_size: int = Field(
        default=400,
        ge=1,
        le=5000,
        description="Most records asked of a band at once; pages are sized to the link's"
        " measured throughput up to this",
    )
    gateway_stall_s: float = Field(
        default=6.0,
        gt=0,
        description="A band transfer with no data this long means the link is gone"
        " (noticed sooner when the radio reports the disconnect)",
    )
    gateway_batch_max: int = Field(default=500, ge=1, le=10000)
    gateway_mqtt5: bool = Field(
        default=True,
        description="Publish with MQTT 5, whose PUBACK tells a record batch nobody was"
        " subscribed to (kept in the spool, sent again); false for a broker without MQTT 5"
        " (amqtt; the gateway's log says so when a broker refuses MQTT 5)",
    )
    gateway_ota_min_battery: int = Field(
        default=30,
        ge=0,
        le=100,
        description="A firmware update starts only with the band's battery at or above this %",
    )
    gateway_ota_receipt_every: int = Field(
        default=8,
        ge=1,
        le=255,
        description="Firmware packets sent before waiting for the band's receipt (flow control)",
    )
    # Firmware catalogue (server): the vendor's Ed25519 public key, 64 hex digits; a
    # release whose signature it does not verify is refused (empty: not checked here,
    # the band still checks)
    firmware_public_key: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")

    # Ingest
    ingest_batch_max: int = Field(
        default=10_000,
        ge=1,
        description="Records per database transaction (at most; a batch also ends after"
        " BANDHUB_INGEST_BATCH_WAIT_S). Fewer commits: 10,000 stored 1.3x as fast as 2,000",
    )
    ingest_batch_wait_s: float = Field(default=0.2, ge=0.0)
    ingest_auto_register_bands: bool = True
    ingest_max_future_s: float = Field(
        default=300.0, gt=0, description="Records stamped later than this are dead-lettered"
    )
    ingest_max_age_days: float = Field(
        default=365.0, gt=0, description="Records stamped earlier than this are dead-lettered"
    )
    ingest_share_group: str = Field(
        default="ingest",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Workers subscribe to records as $share/<group>/... and split them"
        " (empty: each worker gets every record; needed on a broker without shared"
        " subscriptions, e.g. amqtt). A broker that forgets shared subscriptions over a"
        " restart (mosquitto 2.0) loses nothing: gateways keep a batch nobody took"
        " (docs/scaling.md)",
    )
    ingest_client_prefix: str = Field(
        default="bandhub-ingest", description="Worker client ids are <prefix>-<slot>"
    )
    ingest_orphan_check_s: float = Field(
        default=1.0,
        gt=0.0,
        description="How often a worker looks for the sessions of workers that are gone",
    )

    # Home Assistant (docs/home-assistant.md)
    ha_discovery: bool = Field(
        default=False,
        description="Publish Home Assistant MQTT discovery configs and states for the bands"
        " their owners chose to expose (`bandhub ha-discovery`, or inside `bandhub demo`)",
    )
    ha_discovery_prefix: str = Field(
        default="homeassistant",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        description="Home Assistant's discovery prefix (its MQTT integration's setting)",
    )
    ha_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often the discovery service reads the exposed bands' latest values",
    )

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Accounts and sign-in
    auth_access_token_s: int = Field(
        default=900, ge=30, description="Lifetime of an access token (renew with the refresh token)"
    )
    auth_session_days: float = Field(
        default=30.0, gt=0, description="A sign-in lasts this long unless used or revoked"
    )
    auth_login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins per address (x4 per client) per window"
    )
    auth_login_window_s: int = Field(default=900, ge=1)
    auth_email_token_h: float = Field(
        default=24.0, gt=0, description="Verification and reset links expire after this"
    )
    auth_invitation_days: float = Field(default=14.0, gt=0)
    api_expensive_per_min: int = Field(
        default=120, ge=1, description="Data-heavy requests (series, summaries) per account"
    )

    # Retention, days per kind of data (0: keep forever); enforced hourly by the monitor
    retention_hr_days: float = Field(default=0.0, ge=0, description="raw heart rate")
    retention_epochs_days: float = Field(default=0.0, ge=0, description="minute epochs")
    retention_falls_days: float = Field(default=0.0, ge=0, description="raw fall windows")
    retention_dead_letters_days: float = Field(default=90.0, ge=0)
    retention_audit_days: float = Field(default=730.0, ge=0, description="the audit log")
    retention_interval_s: float = Field(default=3600.0, gt=0)
    # Heart-rate history is kept in compact hourly blocks (docs/scaling.md); the monitor
    # moves an hour of heart rate there once it ended this long ago
    hr_compact_after_s: float = Field(
        default=7200.0,
        ge=1200.0,
        description="an hour of heart rate is compacted this long after it ended",
    )
    hr_compact_interval_s: float = Field(default=300.0, gt=0)

    # Daily summaries kept current in the background (docs/scaling.md), by the worker
    # in slot 0 next to the monitor
    summary_refresh_s: float = Field(
        default=10.0,
        ge=0.0,
        description="How often the summary refresher looks for local days whose data changed"
        " (0: off; a summary is then computed on its first read after a change)",
    )
    summary_debounce_s: float = Field(
        default=300.0,
        ge=0.0,
        description="A day's stored summary is recomputed in the background at most once per"
        " this, however often its data changes (a read in between computes it on demand)",
    )

    trends_compute_days: int = Field(
        default=0,
        ge=0,
        le=400,
        description="After a trends read has answered, at most this many missing daily"
        " summaries (newest first) are computed for the next read (0: none; the"
        " computation shares the API's event loop)",
    )

    claim_secret: str = Field(
        default="bandhub-simulated-bands",
        description="Shared with the manufacturer: claim codes on band boxes are derived from it"
        " (the default matches the simulated bands; set your own in production)",
    )

    # Alerts
    fall_countdown_s: float = Field(default=30.0, ge=0.0)
    alert_escalation_s: float = Field(
        default=60.0, ge=0.0, description="Unacknowledged this long, the next contact is alerted"
    )
    alert_repeat_s: float = Field(
        default=300.0,
        ge=0.0,
        description="After the last contact was alerted, all are alerted again this often (0: off)",
    )
    api_public_url: str = Field(
        default="",
        description="Base URL of the API as contacts reach it, for one-click acknowledgement"
        " links in messages (empty: http://API_HOST:API_PORT)",
    )
    webhook_timeout_s: float = 5.0
    # Other alerts (checked every monitor_interval_s; each kind at most once per
    # band per alert_rate_limit_s)
    monitor_interval_s: float = Field(default=60.0, gt=0.0)
    alert_rate_limit_s: float = Field(default=6 * 3600.0, ge=0.0)
    band_silent_h: float = Field(default=4.0, gt=0.0)
    low_battery_percent: int = Field(default=15, ge=0, le=100)
    hr_high_bpm: int = Field(default=120, gt=0)
    hr_low_bpm: int = Field(default=40, gt=0)
    hr_sustained_min: int = Field(default=10, ge=1)
    irregular_rhythm_min: int = Field(default=30, ge=5)
    sedentary_min: int = Field(default=60, ge=1)
    waking_hours: tuple[int, int] = Field(
        default=(8, 21), description="the wearer's local hours when a sedentary reminder may come"
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "bandhub alerts <alerts@bandhub.invalid>"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False

    def gateway_geolocation(self) -> GeoLocation | None:
        if not self.gateway_location:
            return None
        lat, lon, *acc = (float(x) for x in self.gateway_location.split(","))
        return GeoLocation(lat=lat, lon=lon, accuracy_m=acc[0] if acc else None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process (cached; tests build their own ``Settings``)."""
    return Settings()
