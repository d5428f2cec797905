"""Settings: one pydantic-settings class, read from the environment and `.env`.

Every knob has a safe default so `python -m bot` runs on the embedded defaults
(SQLite file, sandbox gateway). Secrets are ``SecretStr`` and never logged.
``.env.example`` documents each setting; keep the two in step.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class GatewayKind(StrEnum):
    SANDBOX = "sandbox"
    WAHA = "waha"
    CLOUD = "cloud"


class RegistrationMode(StrEnum):
    APPROVAL = "approval"
    OPEN = "open"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore",
        frozen=True,
    )

    telegram_bot_token: SecretStr | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_path: Path = Path("qasid.sqlite3")
    # PostgreSQL instead of the SQLite file: postgresql://user:password@host:5432/dbname
    # (bot/storage/pg.py); unset or empty: DATABASE_PATH
    database_url: str | None = None
    gateway: GatewayKind = GatewayKind.SANDBOX
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Prometheus' /metrics on a listener of its own (bot/web/metrics.py), not the public
    # port; METRICS_PORT=0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # What the webhooks may hold at once (bot/web/app.py ``WebLimits``).
    webhook_inflight_mb: int = Field(default=64, ge=1)
    webhook_per_client: int = Field(default=128, ge=1)
    webhook_body_seconds: float = Field(default=30.0, gt=0)
    # The integration API (/api/v1): requests a second per key and the burst above it
    # (429 beyond), and the largest request body (413 beyond).
    api_rate_per_second: float = Field(default=50.0, gt=0)
    api_burst: int = Field(default=100, ge=1)
    api_max_body_mb: int = Field(default=8, ge=1)
    # Outgoing webhooks (/webhooks in chat, /api/v1/webhooks): an endpoint's URL must be
    # https and reach public addresses only, unless these allow http and private ones (a
    # receiver on this machine or network); the seconds a receiver may take to answer.
    webhooks_allow_http: bool = False
    webhooks_allow_private: bool = False
    webhooks_timeout: float = Field(default=10.0, gt=0)
    default_region: str = "AZ"
    default_timezone: str = "Asia/Baku"
    registration_mode: RegistrationMode = RegistrationMode.APPROVAL
    # Where owners turn when they are declined, suspended or need credits ("@qasid_support",
    # a phone number or an e-mail address); empty: they are told to contact the admin.
    support_contact: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    log_level: str = "INFO"

    # Contact imports.
    import_max_file_mb: int = Field(default=20, ge=1)  # the Bot API's limit; more needs a
    #                                                    self-hosted Bot API server
    import_max_rows: int = Field(default=1_000_000, ge=1)
    import_allow_landlines: bool = False

    # Campaigns: above this many recipients the owner confirms a second time (WhatsApp's
    # own advice for keeping a number safe is to start small).
    campaign_advice_max: int = Field(default=100, ge=1)

    # Sending: how often the dispatcher looks for due messages (0: never by itself, for
    # tests that drive it), and each number's daily cap (a new number warms up to it).
    dispatch_interval: float = Field(default=1.0, ge=0)
    sender_daily_cap: int = Field(default=1000, ge=1)
    sender_warmup: Annotated[tuple[int, ...], NoDecode] = (
        20, 20, 20, 40, 60, 100, 150, 250, 400, 600)  # bot/services/sending.py WARMUP
    failure_spike_window: int = Field(default=20, ge=1)
    failure_spike_share: float = Field(default=0.5, gt=0, le=1)
    low_balance_credits: int = Field(default=100, ge=0)
    # Several processes (``python -m bot web`` + N x ``python -m bot worker``): a worker
    # holds each of its numbers, and a process each scheduled job, by a lease of this many
    # seconds, renewed while it lives; a dead worker's numbers are taken over after it.
    lease_seconds: float = Field(default=30.0, gt=0)

    # Checking ahead of the send whether recipients are on WhatsApp (numbers whose gateway
    # checks numbers: WAHA): every NUMBER_CHECK_INTERVAL seconds (0: never by itself), for
    # messages planned in the next NUMBER_CHECK_HORIZON_HOURS, at most NUMBER_CHECK_BATCH
    # checks in a batch on one number, NUMBER_CHECK_GAP_MIN-MAX seconds apart, then a rest
    # of NUMBER_CHECK_REST_MIN-MAX seconds on that number (bot/services/number_checks.py).
    number_check_interval: float = Field(default=60.0, ge=0)
    # The live health guard (bot/services/health_guard.py) asks each active WAHA / Cloud
    # API number with queued messages for its capping / quality / tier every
    # HEALTH_POLL_INTERVAL seconds (0: only what webhooks report).
    health_poll_interval: float = Field(default=300.0, ge=0)
    number_check_horizon_hours: float = Field(default=12.0, gt=0)
    number_check_batch: int = Field(default=10, ge=1)
    number_check_gap_min: float = Field(default=2.0, ge=0)
    number_check_gap_max: float = Field(default=5.0, ge=0)
    number_check_rest_min: float = Field(default=60.0, ge=0)
    number_check_rest_max: float = Field(default=120.0, ge=0)

    # Paying by bank transfer or card outside Telegram (Balance -> Buy credits): the
    # details an owner pays to (no IBAN: "Pay by transfer" is not offered), a line of
    # instructions below them, and the days an order waits for its receipt before it
    # expires. The platform's name and details (address, tax id) go on receipts; prices
    # are in CURRENCY (ISO 4217, in its minor units: qəpik for AZN).
    payment_bank: str = ""
    payment_iban: str = ""
    payment_recipient: str = ""
    payment_note: str = ""
    order_expiry_days: int = Field(default=3, ge=1)
    platform_name: str = "Qasid"
    platform_details: str = ""
    currency: str = "AZN"
    # A customer's reply that is only one of these opts them out (in); empty: the built-in
    # words in English, Azerbaijani, Russian and Turkish.
    opt_out_words: Annotated[tuple[str, ...], NoDecode] = ()
    opt_in_words: Annotated[tuple[str, ...], NoDecode] = ()

    # WAHA's webhooks (POST /webhooks/waha): when set, each must be signed with this key
    # (X-Webhook-Hmac, HMAC-SHA512); unsigned or wrongly signed ones are refused.
    waha_webhook_key: SecretStr | None = None

    # The bot's own address as WAHA and Meta reach it (e.g. https://qasid.example.com):
    # new WAHA sessions are told to send their webhooks to PUBLIC_URL/webhooks/waha.
    public_url: str | None = None

    # WAHA (GATEWAY=waha, or set WAHA_BASE_URL to offer WAHA numbers beside another gateway).
    waha_base_url: str | None = None
    waha_api_key: SecretStr | None = None
    waha_timeout: float = Field(default=30.0, gt=0)

    # Meta's Cloud API (GATEWAY=cloud). Numbers are added in chat with their phone-number id
    # and access token; the app secret checks the webhooks' X-Hub-Signature-256 and the
    # verify token answers Meta's subscription handshake (GET /webhooks/cloud).
    cloud_graph_url: str = "https://graph.facebook.com"
    cloud_api_version: str = "v23.0"
    cloud_app_secret: SecretStr | None = None
    cloud_verify_token: SecretStr | None = None
    cloud_throughput: float = Field(default=80.0, gt=0)

    # Linking a WAHA number in chat: how often the QR code is refreshed / the link checked,
    # and how long a QR code waits for its scan.
    link_poll_interval: float = Field(default=3.0, gt=0)
    link_timeout: float = Field(default=300.0, gt=0)

    # The sandbox gateway (simulated WhatsApp).
    sandbox_delivery_delay: float = Field(default=2.0, ge=0)
    sandbox_read_delay: float = Field(default=5.0, ge=0)
    sandbox_read_share: float = Field(default=0.7, ge=0, le=1)
    sandbox_invalid_share: float = Field(default=0.05, ge=0, le=1)
    sandbox_ban_after: int | None = Field(default=None, ge=1)
    sandbox_seed: int = 0
    sandbox_journal: Path | None = None  # every accepted message appended here (tests)

    @field_validator("telegram_bot_token", "waha_webhook_key", "waha_api_key",
                     "cloud_app_secret", "cloud_verify_token", "public_url", "waha_base_url",
                     mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("DATABASE_URL is a PostgreSQL URL, postgresql://user@host/dbname"
                             " (leave it empty for the SQLite file DATABASE_PATH)")
        return value

    @field_validator("support_contact", "payment_bank", "payment_recipient", "payment_note",
                     "platform_name", "platform_details")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @field_validator("payment_iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        """Written in groups or not (``AZ21 NABZ ...``), kept without spaces; a typo (its
        check digits, ISO 13616) stops start-up rather than reach an owner's bank."""
        iban = "".join(value.split()).upper()
        if not iban:
            return ""
        if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
            raise ValueError("expected an IBAN like AZ21NABZ00000000137010001944")
        digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
        if int(digits) % 97 != 1:
            raise ValueError("the IBAN's check digits do not match: a typo?")
        return iban

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code) or code == "XTR":
            raise ValueError("expected a three-letter currency code like AZN")
        return code

    @field_validator("sender_warmup", mode="before")
    @classmethod
    def _split_warmup(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                steps = tuple(int(p) for p in value.replace(" ", "").split(",") if p)
            except ValueError:
                raise ValueError("expected messages per day, e.g. 20,40,80,160") from None
            if any(n < 1 for n in steps):
                raise ValueError("every day allows at least 1 message")
            return steps
        return value

    @field_validator("opt_out_words", "opt_in_words", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(w.strip() for w in value.split(",") if w.strip())
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError:
                raise ValueError(
                    "expected Telegram user ids separated by commas, e.g. 12345,67890"
                ) from None
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}; use a two-letter code like AZ")
        return region

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use a name like Asia/Baku") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("telegram_api_url", "telegram_file_url", "cloud_graph_url", "public_url",
                     "waha_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("cloud_api_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d+\.\d+", value.strip()):
            raise ValueError("expected a Graph API version like v23.0")
        return value.strip()

    @model_validator(mode="after")
    def _gateway_configured(self) -> Settings:
        if self.gateway is GatewayKind.WAHA and not self.waha_base_url:
            raise ValueError("GATEWAY=waha needs WAHA_BASE_URL (e.g. http://127.0.0.1:3000)")
        if self.gateway is GatewayKind.CLOUD and not self.cloud_app_secret:
            raise ValueError("GATEWAY=cloud needs CLOUD_APP_SECRET to check Meta's webhooks")
        return self

    @property
    def waha_enabled(self) -> bool:
        return bool(self.waha_base_url)

    @property
    def transfer_enabled(self) -> bool:
        """Owners are offered *Pay by transfer* (an IBAN to pay to is set)."""
        return bool(self.payment_iban)

    @property
    def cloud_enabled(self) -> bool:
        return self.gateway is GatewayKind.CLOUD or self.cloud_app_secret is not None

    def is_admin(self, telegram_id: int) -> bool:
        return telegram_id in self.admin_ids


class SettingsError(Exception):
    """Start-up stops with one clear line per wrong setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "SETTINGS"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"Invalid setting {name}: {message}")
        raise SettingsError(lines) from None
