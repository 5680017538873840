"""Configuration from ``KINESYNC_*`` environment variables, with defaults for the embedded run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kinesync.runtime.secrets import SecretFilesSource


class Settings(BaseSettings):
    # A misspelled keyword (Settings(infux_url=...)) is an error. Environment variables and secret files
    # are read per field, so a stray KINESYNC_* variable is still not one.
    model_config = SettingsConfigDict(env_prefix="KINESYNC_", env_file=None, extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # After the environment: KINESYNC_*_FILE and the secrets directory (kinesync.runtime.secrets).
        return init_settings, env_settings, dotenv_settings, SecretFilesSource(settings_cls)

    secrets_dir: str | None = Field(
        None, description="folder of secret files named like the variables; default /run/secrets when it exists"
    )

    # Kafka
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    partitions: int = Field(8, ge=1, description="partitions of every input and output topic")
    replication_factor: int = Field(1, ge=1)
    compression: str = Field(
        "none", description="producer compression: gzip, snappy, lz4, zstd or none (sensor samples barely compress)"
    )
    linger_ms: int = Field(
        5, ge=0,
        description="how long a record sent on its own (a session change) waits for others to share its batch, "
        "ms; batches (the gateway's frames, the analyzer's windows, reps and dead letters) leave at once",
    )
    fetch_max_wait_ms: int = Field(
        20, ge=0,
        description="consumers: longest a fetch waits at the broker for new data, ms (sets the latency floor; the "
        "analyzers' sessions follower waits 200 ms)",
    )
    analyzer_max_records: int = Field(2000, ge=1, description="analyzer: most messages handled as one batch")
    analyzer_group: str = "kinesync-analyzer"
    writer_group: str = "kinesync-writer"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka listener security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle (PEM) for the brokers; unset: system store")
    kafka_ssl_certfile: str | None = Field(None, description="client certificate (PEM) for mutual TLS")
    kafka_ssl_keyfile: str | None = Field(None, description="client private key (PEM) for mutual TLS")
    kafka_ssl_key_password: SecretStr | None = Field(None, description="password of the client private key")
    kafka_ssl_check_hostname: bool = Field(True, description="check the broker certificate's host name")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism for SASL_PLAINTEXT/SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")

    # Analysis
    window_s: float = Field(2.0, gt=0, description="sliding window length, s")
    hop_s: float = Field(0.25, gt=0, description="sliding window hop, s")
    window_stagger_s: float = Field(
        0.05, ge=0, description="stations' window grids lie this far apart (a hash of the station picks one of "
        "hop ÷ this offsets), so reps made in step are not all analysed at once; 0: every station on one grid, s")
    max_wait_s: float = Field(2.0, ge=0, description="bounded wait for the slower sensor before a partial window, s")
    lateness_s: float = Field(1.0, ge=0, description="how late (event time) a frame may arrive and still be used, s")
    rep_wait_s: float = Field(
        2.0, ge=0, description="how long past its window's end a rep's analysis waits for a lift still rising (a "
        "heavy rep) to end, so its bar velocity and phases are measured whole; its cue comes that much later, s")
    target_low_ms: float = 80.0
    target_high_ms: float = 120.0
    alignment_reps: int = Field(10, ge=1, description="reps in the alignment score")
    envelope_cutoff_hz: float = Field(6.0, gt=0, description="EMG linear-envelope low-pass cut-off, Hz")
    fault_drill_stations: str = Field(
        "", description="fault-isolation drill: comma-separated stations whose window analysis raises on purpose "
        "(their windows come out flagged analysis_error, every other station goes on); empty in production",
    )
    # Personal target window (docs/metrics.md; kinesync.analysis.personal_window.PersonalWindowConfig)
    personal_bound_low_ms: float = Field(60.0, description="personal window: lowest lag it may reach, ms")
    personal_bound_high_ms: float = Field(160.0, description="personal window: highest lag it may reach, ms")
    personal_history_reps: int = Field(20, ge=1, description="personal window: last reps it learns from")
    personal_top_k: int = Field(5, ge=1, description="personal window: reps with the best outcome considered")
    personal_near_best_share: float = Field(
        0.01, ge=0, description="personal window: best reps are within this share of the best outcome"
    )
    personal_min_best: int = Field(2, ge=1, description="personal window: fewest best reps that set it")
    personal_min_reps: int = Field(6, ge=1, description="personal window: reps seen before it judges")
    personal_min_half_width_ms: float = Field(8.0, gt=0, description="personal window: narrowest half-width, ms")
    personal_max_half_width_ms: float = Field(30.0, gt=0, description="personal window: widest half-width, ms")

    # Storage
    sqlite_path: str = Field("kinesync.db", description="embedded store used when no InfluxDB URL is set")
    influx_url: str | None = Field(None, description="InfluxDB base URL, e.g. http://127.0.0.1:8086")
    influx_version: Literal["1", "2"] = Field(
        "1", description="1: InfluxDB 1.x /write (user, password, database, rp); 2: InfluxDB 2 or 3 via influxdb-client"
    )
    influx_token: SecretStr | None = Field(None, description="InfluxDB 2/3 API token (influx_version=2)")
    influx_org: str = Field("kinesync", description="InfluxDB 2 organisation (influx_version=2)")
    influx_bucket: str = Field("kinesync", description="InfluxDB 2 bucket, or InfluxDB 3 database (influx_version=2)")
    influx_database: str = "kinesync"
    influx_retention_policy: str | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    batch_size: int = Field(5000, ge=1, description="lines per database write")
    batch_interval_s: float = Field(0.1, gt=0, description="longest wait before a partial batch is written, s")

    # Grafana (kinesync dashboards publish / annotate): a service-account token, or user and password
    grafana_url: str = Field("http://127.0.0.1:3000", description="Grafana base URL")
    grafana_token: SecretStr | None = Field(None, description="Grafana service-account token")
    grafana_user: str | None = None
    grafana_password: SecretStr | None = None

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_admin_token: SecretStr | None = Field(None, description="API token for writes (and reads)")
    api_viewer_token: SecretStr | None = Field(None, description="API token for reads")
    api_admin_token_sha256: str | None = Field(None, description="SHA-256 hex of the admin token, instead of it")
    api_viewer_token_sha256: str | None = Field(None, description="SHA-256 hex of the viewer token, instead of it")
    api_open_reads: bool = Field(
        False, description="reads (wall, station view, GET endpoints) need no token even with tokens configured; "
        "kinesync run turns it on for its demo on 127.0.0.1, where it makes an admin token for the console")
    registry_db: str = Field("registry.db", description="SQLite file of the facility registry (teams, athletes...)")
    console_secret: SecretStr | None = Field(
        None, description="key that signs console session cookies; unset: random per process (a restart signs out)")
    api_max_body_kb: int = Field(1024, ge=1, description="largest accepted API request body, KB (413 above)")
    api_rate_per_s: float = Field(50.0, ge=0, description="API requests per second per token or client, 0 = off")
    api_rate_burst: int = Field(100, ge=1, description="API requests a client may send at once before 429")
    api_request_timeout_s: float = Field(30.0, gt=0, description="longest API request handling, s (504 after)")
    api_ws_max_message_kb: int = Field(64, ge=1, description="largest message a wall WebSocket client may send, KB")
    http_keep_alive_s: float = Field(5.0, gt=0, description="idle HTTP keep-alive connections close after this, s")
    http_max_concurrency: int = Field(
        1000, ge=1, description="open connections and requests per HTTP server before 503 (api, gateway)"
    )
    http_ws_ping_s: float = Field(20.0, gt=0, description="WebSocket ping interval and pong timeout, s")

    # Alerts (docs/alerts.md)
    alerts_group: str = "kinesync-alerts"
    alerts_db: str = Field("alerts.db", description="SQLite file: subscriptions, API rules, the delivery outbox")
    alert_rules: str | None = Field(None, description="rules file (YAML or JSON); API rules are added to it")
    alerts_timeout_s: float = Field(10.0, gt=0, description="timeout of one webhook attempt, s")
    alerts_retry_base_s: float = Field(1.0, gt=0, description="first retry delay (doubled per attempt, jittered), s")
    alerts_retry_max_s: float = Field(300.0, gt=0, description="longest delay between two attempts, s")
    alerts_retry_horizon_s: float = Field(3600.0, gt=0, description="give up a delivery this long after the alert, s")
    alerts_grafana: bool = Field(True, description="also write Grafana annotations when a Grafana token is set")

    # kinesync run (docs/operations.md#kinesync-run)
    supervisor_max_failures: int = Field(
        5, ge=1, description="kinesync run: a service that exits this often within the window stops the run"
    )
    supervisor_failure_window_s: float = Field(
        60.0, gt=0, description="kinesync run: the window over which a service's exits are counted, s"
    )
    supervisor_broker_max_mb: float = Field(
        1024.0, ge=0, description="kinesync run: the embedded broker keeps every record in memory; once it holds "
        "this much it is restarted empty, with every service (the wall pauses for about 15 s), MB; 0: never"
    )
    supervisor_state: str | None = Field(
        None, description="set by kinesync run for its services: its state file, whose restart counts /health shows"
    )

    # Simulator
    sim_stations: int = Field(8, ge=1)
    sim_realtime: bool = True
    sim_seed: int = 7
    sim_lags_ms: list[float] = Field(
        [60.0, 90.0, 110.0, 150.0, 75.0, 100.0, 120.0, 135.0],
        description="true phase lags of the simulated stations, used in turn, ms (JSON list)",
    )
    sim_rep_periods_s: list[float] = Field(
        [3.0, 3.6], description="each simulated station's rep period is drawn (seeded) between these two, s: "
        "athletes keep their own tempo; equal values put every station in step (JSON list)",
    )
    sim_duration_s: float | None = Field(None, description="stop the simulation after this session time, s")

    @field_validator("sim_rep_periods_s")
    @classmethod
    def _rising_periods(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0.0 < value[0] <= value[1]:
            raise ValueError(f"need LOW,HIGH with 0 < LOW <= HIGH, got {','.join(f'{v:g}' for v in value)}")
        return value

    sim_bar: bool = Field(True, description="simulated stations also carry a linear position transducer on the bar")
    sim_presynth_s: float = Field(
        0.0, ge=0.0, description="session time synthesised for every simulated station before the session starts, s "
        "(the benchmark: the sensors' samples then cost the machine nothing); 0: 1 s ahead while it runs",
    )

    # Gateway (docs/gateway.md)
    gateway_source: Literal["sim", "c3d", "csv", "lsl", "http"] = Field(
        "sim", description="where frames come from: sim, c3d or csv replay, lsl inlets, or http ingest only"
    )
    gateway_file: str | None = Field(None, description="c3d/csv: the recording to replay")
    gateway_mapping: str | None = Field(None, description="JSON channel mapping (csv and lsl: required; c3d: optional)")
    gateway_station: str = Field("station-01", description="c3d auto-mapping: the station the recording plays on")
    gateway_speed: float = Field(1.0, ge=0, description="replay speed, 1 = real time, 0 = as fast as possible")
    gateway_loop: bool = Field(False, description="replay: start over at the end")
    gateway_frame_s: float = Field(0.05, gt=0, le=1.0, description="replay frame length, s")
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(8001, ge=0, description="health and ingest HTTP port (0 = no HTTP server)")
    gateway_tokens_file: str | None = Field(None, description="device tokens (hashed), see `kinesync device-token`")
    gateway_buffer_frames: int = Field(20_000, ge=1, description="frames held while the broker is unreachable")
    gateway_buffer_mb: float = Field(64.0, gt=0, description="bytes held while the broker is unreachable, MB")
    gateway_buffer_s: float = Field(30.0, gt=0, description="oldest buffered frame kept, s")
    gateway_send_timeout_s: float = Field(2.0, gt=0, description="broker acknowledgement wait before an outage, s")
    gateway_max_body_kb: int = Field(4096, ge=1, description="largest accepted ingest body, KB")
    gateway_rate_per_s: float = Field(
        1000.0, ge=0, description="ingest requests per second per device token or client address (0 = off)"
    )
    gateway_rate_burst: int = Field(2000, ge=1, description="ingest requests a device may send at once before 429")
    gateway_request_timeout_s: float = Field(10.0, gt=0, description="longest ingest request handling, s (504 after)")
    gateway_ws_idle_s: float = Field(60.0, gt=0, description="ingest WebSocket closes after this long silent, s")
    gateway_latency_ms: dict[str, float] = Field(
        {}, description='per-device latency offsets, ms (JSON: {"device": 17.0}); subtracted from its stamps'
    )
