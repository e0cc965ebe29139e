"""Typed configuration: YAML validated by pydantic, overridden by ``SAFECITY_...`` environment variables.

``load(path)`` reads a file; ``parse(mapping)`` builds settings from a dict (tests use it directly).
Environment variables win over the file, so a deployment can change one value without editing YAML,
e.g. ``SAFECITY_DATABASE_URL`` or ``SAFECITY_RECOGNITION__THRESHOLD``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from pipeline.settings.afis import AfisSettings
from pipeline.settings.base import Strict
from pipeline.settings.camera import CAMERA_ID_PATTERN as CAMERA_ID_PATTERN
from pipeline.settings.camera import Analytic as Analytic
from pipeline.settings.camera import CameraConfig as CameraConfig
from pipeline.settings.database import DatabasePoolSettings
from pipeline.settings.dispatch import DispatchSettings
from pipeline.settings.fusion import FusionSettings
from pipeline.settings.map import TileUrl
from pipeline.settings.models import ModelsSettings
from pipeline.settings.nats import NatsSettings
from pipeline.settings.plates import PlatesSettings
from pipeline.settings.records import RecordsSettings
from pipeline.settings.retention import RetentionSettings
from pipeline.settings.security import DEV_SECRET as DEV_SECRET
from pipeline.settings.security import SecuritySettings as SecuritySettings
from pipeline.settings.streams import StreamSettings
from pipeline.settings.tracking import MotionSettings, QualitySettings, TrackingSettings, VoteSettings
from pipeline.settings.watchlist import (
    WatchlistSettings,
)


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says which and why."""


class RecognitionSettings(Strict):
    detector_model: str = Field("yunet", description="Registry name of the face detector.")
    embedder_model: str = Field("mobilefacenet", description="Registry name of the face embedder.")
    detector_score: float = Field(0.6, ge=0.05, le=0.99, description="Minimum YuNet face score.")
    threshold: float = Field(
        0.42,
        ge=0.0,
        le=1.0,
        description="The lowest cosine similarity at which any watch list matches. Each list's own "
        "threshold is calibrated for its size and false-alert target (watchlist.lists) and only rises "
        "above this floor.",
    )
    top_k: int = Field(5, ge=1, le=100, description="Profiles returned by a watchlist search.")
    detect_max_side: int = Field(
        1280, ge=160, le=4096, description="Images are downscaled to this longest side before detection."
    )
    enrol_min_face_px: int = Field(
        60, ge=20, le=1000, description="Smallest face side (pixels) accepted for an enrolment photo."
    )
    enrol_detect_side: int = Field(
        320,
        ge=0,
        le=4096,
        description="N: enrolment photos take the fast path (watchlist/enrol_face.py): the face found on a "
        "copy of longest side N, then measured again around itself at enrol_face_px; as good as the full "
        "path against camera faces (README, Enrolment speed). 0: the full path (full decode, "
        "detect_max_side).",
    )
    enrol_face_px: int = Field(
        224,
        ge=64,
        le=1024,
        description="Fast path: the face's size when it is measured again (never enlarged).",
    )
    enrol_decode_side: int = Field(
        640,
        ge=96,
        le=8192,
        description="Fast path: JPEGs are decoded at 1/2-1/8 size down to this longest side.",
    )
    min_face_px: int = Field(24, ge=8, le=1000, description="Smallest face side analysed in video.")
    intra_op_threads: int = Field(1, ge=1, le=64, description="onnxruntime threads per session.")
    enrol_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads that prepare enrolment photos at once (decode, detect, embed; onnxruntime and "
        "OpenCV release the GIL) for a profile of several photos and for bulk imports. 0: one per CPU core.",
    )
    flip_tta: bool = Field(
        False,
        description="Flip test-time augmentation: a face's embedding is the normalised sum of the embeddings "
        "of the aligned face and of its mirror image. Doubles the embedder's CPU per face; enrolments and "
        "live faces should use the same setting, so re-enrol (or re-embed) the gallery after changing it. "
        "Measured effect: bench/face_roc.py.",
    )


class WorkerSettings(Strict):
    worker_id: str = Field("", description="Stable worker name; defaults to host-pid.")
    analysis_fps: float = Field(5.0, gt=0, le=60, description="Frames per second analysed per camera.")
    queue_size: int = Field(2, ge=1, le=16, description="Decoded frames buffered per camera (oldest drops).")
    # A restored camera is seen again within the backoff cap plus one open: 2 s each keeps that under
    # 5 s after any outage, and one refused connection every 2 s is cheap for a camera down for hours.
    reconnect_initial_s: float = Field(0.5, gt=0, le=60, description="First reconnect delay.")
    reconnect_max_s: float = Field(2.0, gt=0, le=600, description="Longest reconnect delay.")
    open_timeout_s: float = Field(2.0, gt=0, le=120, description="RTSP connect/read timeout.")
    auth_retry_initial_s: float = Field(
        300.0,
        gt=0,
        le=86400,
        description="After a camera refuses the login (401/403): wait this long before trying again, "
        "doubling each refusal in a row, so the camera's firmware does not lock the account.",
    )
    auth_retry_max_s: float = Field(3600.0, gt=0, le=86400, description="Longest wait after refused logins.")
    streams: StreamSettings = Field(
        default_factory=StreamSettings,
        description="Decoding shortcuts, waiting for keyframes, evidence from a camera's main stream.",
    )
    scene_max_side: int = Field(640, ge=160, le=1920, description="Scene snapshot longest side.")
    crop_margin: float = Field(0.25, ge=0, le=1, description="Margin around a face crop, fraction of box.")
    jpeg_quality: int = Field(85, ge=30, le=100)
    heartbeat_s: float = Field(5.0, gt=0, le=300, description="Interval of worker heartbeats.")
    watchlist_resync_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How often the watchlist revision in the database is checked, "
        "to catch changes whose NATS announcement was missed.",
    )
    stop_at_end: bool = Field(False, description="Exit when every stream ended (tests, replays).")
    assignment: Literal["leases", "static"] = Field(
        "leases",
        description="leases: cameras come from the NATS KV camera catalogue and are shared among live "
        "workers through leases (scale-out, fail-over); static: this worker reads the configured cameras "
        "on its own (replays, pinned cameras).",
    )
    fleet: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="Workers of one fleet share one camera catalogue and lease set (NATS KV buckets).",
    )
    lease_ttl_s: float = Field(
        5.0,
        ge=1.5,
        le=120,
        description="A camera lease (and a worker's presence) lapses this long after its last renewal; "
        "renewals run every third of it. A dead worker's cameras move within about 1.4x this.",
    )
    catalogue_resync_s: float = Field(
        30.0, gt=0, le=3600, description="How often the camera catalogue is re-read in full."
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Port of /metrics, /healthz and /readyz; 0 serves none."
    )
    metrics_host: str = Field("127.0.0.1", description="Listen address of the metrics endpoint.")

    @model_validator(mode="after")
    def _replays_are_static(self) -> WorkerSettings:
        if self.stop_at_end and self.assignment == "leases":
            raise ValueError(
                "stop_at_end replays a fixed set of cameras: use assignment 'static' (or --camera IDs)"
            )
        return self


class EpisodePolicy(Strict):
    """How sightings of one subject on one camera are grouped into alerts, for one watchlist category."""

    window_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="A sighting within this many seconds of the episode's last one updates its alert "
        "(better crop, higher score, last seen) instead of opening a new one.",
    )
    cooldown_s: float = Field(
        300.0,
        ge=0,
        le=7 * 86_400,
        description="After an operator closes an alert (resolved or dismissed), further sightings on "
        "that camera within this many seconds of the last one join the closed alert quietly.",
    )
    priority: int = Field(3, ge=1, le=5, description="Alert priority for this category: 1 is the most urgent")


DEFAULT_EPISODE_POLICIES: dict[str, EpisodePolicy] = {
    "wanted": EpisodePolicy(window_s=120, cooldown_s=600, priority=1),
    "missing": EpisodePolicy(window_s=300, cooldown_s=1800, priority=2),
}


class CommandCenterSettings(Strict):
    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(8080, ge=1, le=65535)
    trusted_proxies: str = Field(
        "",
        description="Addresses of reverse proxies in front (deploy/proxy/), comma separated: their "
        "X-Forwarded-For and "
        "X-Forwarded-Proto are believed, so sign-in throttles and the audit trail see the client's "
        "address, not the proxy's. Empty: no proxy, the headers are ignored.",
    )
    consumer_name: str = Field("command-center", description="JetStream durable consumer of hits.")
    hits_consumer_start: Literal["all", "new"] = Field(
        "all",
        description="Where a newly created hit consumer starts: 'all' replays hits kept in the stream "
        "(no hit published before the first start is lost); 'new' skips them.",
    )
    unknown_cameras: Literal["dead_letter", "accept"] = Field(
        "dead_letter",
        description="A hit or plate read from a camera in neither the settings nor the fleet's catalogue: "
        "'dead_letter' (after a few tries a second apart, for a camera being added) keeps it out of every "
        "operator's screen, listed by 'safecity deadletters'; 'accept' stores it without a district.",
    )
    alert_merge_window_s: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="Default episode window: hits of one subject on one camera within this window update "
        "one alert (categories can override it in 'episodes').",
    )
    alert_cooldown_s: float = Field(
        300.0, ge=0, le=7 * 86_400, description="Default cooldown after an alert is closed (see 'episodes')."
    )
    episodes: dict[str, EpisodePolicy] = Field(
        default_factory=lambda: dict(DEFAULT_EPISODE_POLICIES),
        description="Episode window, cooldown and priority per watchlist category (face categories, "
        "and plate alerts as 'vehicle:<status>'); other categories use the defaults above.",
    )

    max_upload_bytes: int = Field(10_000_000, ge=1000)
    hits_ack_wait_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="A hit fetched but not acknowledged (its replica died) is redelivered after this.",
    )
    hits_retry_delay_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="While the database is away, each hit and plate read waiting to be stored is tried again "
        "this often; none is ever given up.",
    )
    metrics_token: SecretStr = Field(
        SecretStr(""),
        description="Bearer token a scraper must send for /metrics. Empty: /metrics is open in development "
        "and refused (403) in any other environment, so counts of alerts and operators are not public.",
    )
    stuck_after_s: float = Field(
        120.0,
        ge=5,
        le=86_400,
        description="/readyz reports the hit consumer stuck when its oldest unacknowledged hit has waited "
        "longer than this (the database away, or a failure on every delivery).",
    )
    ws_recheck_s: float = Field(
        30.0,
        ge=0.5,
        le=600,
        description="How often a live WebSocket re-checks its credentials (besides revocations announced).",
    )
    map_tile_url: TileUrl = ""
    time_zone: str = Field(
        "",
        max_length=64,
        description="IANA time zone the console and officer app show times in, and alert statistics count "
        "hours and days in (e.g. Asia/Karachi); empty: each browser's own.",
    )
    map_attribution: str = Field("", max_length=200, description="Credit shown under the map's tiles.")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{value!r} is not a known IANA time zone (e.g. Asia/Karachi, UTC)"
                ) from None
        return value


class CameraSimSettings(Strict):
    host: str = Field("127.0.0.1", description="RTSP listen address.")
    port: int = Field(8554, ge=1, le=65535)
    scenario: Path = Field(Path("configs/scenarios/sample.yaml"), description="YAML scenario file.")
    publish_frames: bool = Field(True, description="Publish a FrameSent event per frame on NATS.")
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of /metrics, /healthz, /readyz and the /faults API; 0 serves none.",
    )


class Settings(BaseSettings):
    """Everything a safecity process needs. Every field has a default suitable for a laptop demo."""

    model_config = SettingsConfigDict(
        env_prefix="SAFECITY_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(Path("data"), description="Where the embedded database and state live.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite under data_dir.")
    database_pool: DatabasePoolSettings = Field(
        default_factory=DatabasePoolSettings,
        description="Connections a process keeps to PostgreSQL, and how long it waits for one.",
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        description="NATS server URL(s): one, several comma separated, or a list (the nodes of a cluster); "
        "a client that loses its server reconnects to another.",
    )
    nats_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description="Copies a NATS cluster keeps of each JetStream stream, KV bucket and object store: 1 on "
        "a single server, 3 on a three-node cluster (any one node may fail). Applied when they are "
        "created; existing ones are scaled to it.",
    )
    nats: NatsSettings = Field(
        default_factory=NatsSettings, description="This deployment's names on NATS (subject prefix)."
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis: sessions, lockouts, shared state.")
    models_dir: Path = Field(Path("models"), description="Directory holding the ONNX files.")
    models_registry: Path = Field(Path("configs/models.yaml"), description="Model registry YAML.")
    models: ModelsSettings = Field(
        default_factory=ModelsSettings, description="Inference engine (onnxruntime, OpenVINO) and precision."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one object per line with camera_id, event_id, ... when known; text: plain."
    )
    recognition: RecognitionSettings = Field(default_factory=RecognitionSettings)
    watchlist: WatchlistSettings = Field(default_factory=WatchlistSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    vote: VoteSettings = Field(default_factory=VoteSettings)
    command_center: CommandCenterSettings = Field(default_factory=CommandCenterSettings)
    camera_sim: CameraSimSettings = Field(default_factory=CameraSimSettings)
    dispatch: DispatchSettings = Field(
        default_factory=DispatchSettings, description="Alert lifecycle, escalation and patrol dispatch."
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    records: RecordsSettings = Field(
        default_factory=RecordsSettings, description="CRO records and the hotel check-in feed."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long each class of data is kept."
    )
    plates: PlatesSettings = Field(
        default_factory=PlatesSettings, description="Plate reading (ANPR): detector, OCR, formats."
    )
    fusion: FusionSettings = Field(
        default_factory=FusionSettings, description="Face + known vehicle seen together: one fused alert."
    )
    afis: AfisSettings = Field(
        default_factory=AfisSettings, description="Fingerprint identification: the AFIS to ask."
    )
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras the workers read.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file, which arrives as init kwargs.
        return env_settings, init_settings

    @field_validator("nats_url", mode="before")
    @classmethod
    def _nats_urls(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ",".join(str(url).strip() for url in value)
        return value

    @model_validator(mode="after")
    def _unique_cameras(self) -> Settings:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate camera ids: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _cameras_plate_countries_are_known(self) -> Settings:
        for camera in self.cameras:
            if camera.plate_countries:
                try:
                    self.plates.check_known(camera.plate_countries)
                except ValueError as exc:
                    raise ValueError(f"camera {camera.id}: plate_countries: {exc}") from None
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        sec = self.security
        for name in ("jwt_secret", "api_key_pepper", "audit_key"):
            value = getattr(sec, name).get_secret_value()
            if value == DEV_SECRET or len(value) < 32:
                raise ValueError(
                    f"security.{name} must be set to a secret of at least 32 characters outside "
                    f"development (environment is {self.environment!r}); e.g. SAFECITY_SECURITY__"
                    f"{name.upper()}=$(openssl rand -hex 32)"
                )
        if self.environment == "production" and sec.sms_backend != "http":
            raise ValueError(
                f"security.sms_backend {sec.sms_backend!r} does not deliver codes; production needs 'http' "
                "(a real SMS gateway at security.sms_http_url)"
            )
        if sec.sms_backend == "http" and not sec.sms_http_url.startswith(("https://", "http://")):
            raise ValueError("security.sms_http_url must be the gateway's http(s) URL")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'safecity.db').resolve()}"

    @property
    def auth_redis_prefix(self) -> str:
        """Prefix of the Redis keys holding sign-in codes, sessions and revoked tokens: the deployment's
        name first, so deployments sharing one Redis never see each other's sessions."""
        return f"{self.nats.subject_prefix}:auth"

    @property
    def patrol_redis_prefix(self) -> str:
        """Prefix of the Redis keys holding unit positions: ``dispatch.redis_prefix`` when given, else
        ``<subject_prefix>:patrol``."""
        return self.dispatch.redis_prefix or f"{self.nats.subject_prefix}:patrol"


def parse(data: dict[str, Any]) -> Settings:
    """Build settings from a mapping (plus environment overrides); raise ConfigError on bad input."""
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, "settings")) from None


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file; ConfigError naming the file if it is unreadable or not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load(path: Path | None) -> Settings:
    """Read a YAML settings file (or none, for defaults) and apply environment overrides."""
    if path is None:
        return parse({})
    data = read_yaml_mapping(path, "config")
    try:
        return parse(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One line per problem, each naming the offending key."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{where}: {err['msg']}")
    return f"invalid {what}:\n  " + "\n  ".join(lines)
