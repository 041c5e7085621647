"""Service settings: one validated model built from environment variables.

Every environment variable the service reads is named here. Secrets (the Ozon
Client-Id and Api-Key) are not settings: `chalicelib.secrets` loads them.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from functools import lru_cache
from typing import Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator


class SettingsError(ValueError):
    """An environment variable is missing or invalid."""


class WarehouseRoute(BaseModel):
    """Which 1C warehouses feed one Ozon warehouse.

    `onec_warehouses` lists 1C warehouse ids (`Ид`) whose quantities are summed;
    `["*"]` means the offer's total quantity (`Количество`, or the sum of every
    warehouse when the total is absent).
    """

    ozon_warehouse_id: int = Field(gt=0)
    onec_warehouses: list[str] = Field(default_factory=lambda: ["*"], min_length=1)


class Settings(BaseModel):
    """Configuration of one deployment stage."""

    stage: str = "local"
    region: str = "eu-central-1"
    aws_endpoint_url: str | None = None

    ozon_base_url: str = "https://api-seller.ozon.ru"
    ozon_timeout_seconds: float = Field(default=10.0, gt=0)
    # Name of the Secrets Manager secret holding {"client_id", "api_key"}; when unset,
    # the credentials come from OZON_CLIENT_ID / OZON_API_KEY (local runs only).
    ozon_secret_name: str | None = None

    table_ledger: str = "stock-ledger"
    table_journal: str = "journal"
    table_idempotency: str = "idempotency"
    table_limits: str = "rate-limits"
    bucket: str = "ozon-seller-ops-local"
    inbox_prefix: str = "inbox/1c/"
    alerts_topic: str = "alerts"
    alerts_topic_arn: str | None = None
    alert_language: Literal["ru", "en"] = "ru"

    offer_id_source: Literal["article", "code", "id"] = "article"
    # Columns of a CSV stock export, as keyword arguments of chalicelib.onec.csv_export.CsvFormat
    # (header names; null for a column the file lacks), e.g. {"code": null, "delimiter": ","}.
    csv_format: dict = Field(default_factory=dict)
    warehouse_routes: list[WarehouseRoute] = Field(default_factory=list)

    # Stock request budget: Ozon allows 80 requests a minute per seller for
    # /v2/products/stocks; planning below it keeps the run free of HTTP 429.
    stock_requests_per_minute: float = Field(default=75.0, gt=0, le=80)
    # The limiter lets through at most burst + rate * 60 s requests in any minute; 78 leaves
    # room for requests that reach Ozon a little later or earlier than they were allowed.
    stock_limiter_burst: int = Field(default=3, ge=1)
    global_requests_per_second: float = Field(default=40.0, gt=0, le=50)
    max_delay_seconds: int = Field(default=900, ge=1, le=900)
    max_item_attempts: int = Field(default=8, ge=1)
    # Must match the push queue's RedrivePolicy maxReceiveCount in infra/.
    max_receive_count: int = Field(default=5, ge=1)
    journal_ttl_days: int = Field(default=90, ge=1)

    clock_speed: float = Field(default=1.0, gt=0)
    clock_origin: float | None = None

    # Price sync. The guard blocks a level more than this percent below the SKU's cost;
    # Ozon takes at most 10 price changes per product per hour.
    table_prices: str = "prices"
    price_guard_threshold_percent: Decimal = Field(default=Decimal(3), ge=0, lt=100)
    price_changes_per_hour: int = Field(default=10, ge=1, le=10)
    price_old_gap_policy: Literal["raise", "clear"] = "raise"
    price_account_currency: Literal["RUB", "BYN", "KZT", "EUR", "USD", "CNY"] = "RUB"
    price_requests_per_minute: float = Field(default=30.0, gt=0, le=600)
    price_min_for_auto_actions: bool = True
    price_readback_delay_seconds: int = Field(default=120, ge=0, le=900)
    onec_price_type_id: str | None = None

    # FBS shipments. The push token is the secret path segment of the webhook URL; in
    # production it comes from the Secrets Manager secret named here.
    table_postings: str = "postings"
    table_fbs_journal: str = "fbs-journal"
    table_print_batches: str = "print-batches"
    ozon_push_token: str | None = None
    ozon_push_token_secret_name: str | None = None
    # Ozon's published sender ranges (Ozon Seller API docs, push notifications).
    ozon_push_cidrs: list[str] = Field(
        default_factory=lambda: ["195.34.21.0/24", "185.73.192.0/22", "91.223.93.0/24"])
    fbs_auto_pack: bool = False
    # Ozon advises asking for a label 45-60 s after packing.
    fbs_label_delay_seconds: int = Field(default=60, ge=45, le=900)
    fbs_ship_by_warning_hours: float = Field(default=4.0, gt=0)
    fbs_poll_lookahead_days: int = Field(default=7, ge=1, le=30)
    fbs_presign_seconds: int = Field(default=600, ge=60, le=3600)

    # Label printing. The print agent and the operator screen each authenticate with a
    # bearer token; in production both come from the Secrets Manager secrets named here.
    print_keep_label_second_page: bool = False
    print_font_path: str | None = None
    print_agent_token: str | None = None
    print_agent_token_secret_name: str | None = None
    operator_token: str | None = None
    operator_token_secret_name: str | None = None
    # IANA zone of the warehouse: operator screens and pick lists show times in it.
    warehouse_timezone: str = "Europe/Moscow"

    # Alerts to Telegram. Name of the Secrets Manager secret that contains {"bot_token",
    # "chat_id"}. When unset, TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID are read (local runs only).
    telegram_secret_name: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("warehouse_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Moscow") from error
        return value

    @field_validator("ozon_push_cidrs", mode="before")
    @classmethod
    def _parse_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_stock_budget(self) -> "Settings":
        if self.stock_requests_per_minute + self.stock_limiter_burst > 80:
            raise ValueError(
                f"STOCK_REQUESTS_PER_MINUTE ({self.stock_requests_per_minute}) plus STOCK_LIMITER_BURST "
                f"({self.stock_limiter_burst}) exceeds Ozon's 80 stock requests a minute; lower one of them")
        return self

    @field_validator("warehouse_routes", "csv_format", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else None
        return value


# Environment variable -> settings field.
_ENV_FIELDS = {
    "STAGE": "stage",
    "AWS_REGION": "region",
    "AWS_ENDPOINT_URL": "aws_endpoint_url",
    "OZON_BASE_URL": "ozon_base_url",
    "OZON_TIMEOUT_SECONDS": "ozon_timeout_seconds",
    "OZON_SECRET_NAME": "ozon_secret_name",
    "TABLE_LEDGER": "table_ledger",
    "TABLE_JOURNAL": "table_journal",
    "TABLE_IDEMPOTENCY": "table_idempotency",
    "TABLE_LIMITS": "table_limits",
    "BUCKET": "bucket",
    "INBOX_PREFIX": "inbox_prefix",
    "ALERTS_TOPIC": "alerts_topic",
    "ALERTS_TOPIC_ARN": "alerts_topic_arn",
    "ALERT_LANGUAGE": "alert_language",
    "OFFER_ID_SOURCE": "offer_id_source",
    "CSV_FORMAT": "csv_format",
    "WAREHOUSE_ROUTES": "warehouse_routes",
    "STOCK_REQUESTS_PER_MINUTE": "stock_requests_per_minute",
    "STOCK_LIMITER_BURST": "stock_limiter_burst",
    "GLOBAL_REQUESTS_PER_SECOND": "global_requests_per_second",
    "MAX_DELAY_SECONDS": "max_delay_seconds",
    "MAX_ITEM_ATTEMPTS": "max_item_attempts",
    "MAX_RECEIVE_COUNT": "max_receive_count",
    "JOURNAL_TTL_DAYS": "journal_ttl_days",
    "CLOCK_SPEED": "clock_speed",
    "CLOCK_ORIGIN": "clock_origin",
    "TABLE_PRICES": "table_prices",
    "PRICE_GUARD_THRESHOLD_PERCENT": "price_guard_threshold_percent",
    "PRICE_CHANGES_PER_HOUR": "price_changes_per_hour",
    "PRICE_OLD_GAP_POLICY": "price_old_gap_policy",
    "PRICE_ACCOUNT_CURRENCY": "price_account_currency",
    "PRICE_REQUESTS_PER_MINUTE": "price_requests_per_minute",
    "PRICE_MIN_FOR_AUTO_ACTIONS": "price_min_for_auto_actions",
    "PRICE_READBACK_DELAY_SECONDS": "price_readback_delay_seconds",
    "ONEC_PRICE_TYPE_ID": "onec_price_type_id",
    "TABLE_POSTINGS": "table_postings",
    "TABLE_FBS_JOURNAL": "table_fbs_journal",
    "TABLE_PRINT_BATCHES": "table_print_batches",
    "OZON_PUSH_TOKEN": "ozon_push_token",
    "OZON_PUSH_TOKEN_SECRET_NAME": "ozon_push_token_secret_name",
    "OZON_PUSH_CIDRS": "ozon_push_cidrs",
    "FBS_AUTO_PACK": "fbs_auto_pack",
    "FBS_LABEL_DELAY_SECONDS": "fbs_label_delay_seconds",
    "FBS_SHIP_BY_WARNING_HOURS": "fbs_ship_by_warning_hours",
    "FBS_POLL_LOOKAHEAD_DAYS": "fbs_poll_lookahead_days",
    "FBS_PRESIGN_SECONDS": "fbs_presign_seconds",
    "PRINT_KEEP_LABEL_SECOND_PAGE": "print_keep_label_second_page",
    "PRINT_FONT_PATH": "print_font_path",
    "PRINT_AGENT_TOKEN": "print_agent_token",
    "PRINT_AGENT_TOKEN_SECRET_NAME": "print_agent_token_secret_name",
    "OPERATOR_TOKEN": "operator_token",
    "OPERATOR_TOKEN_SECRET_NAME": "operator_token_secret_name",
    "WAREHOUSE_TIMEZONE": "warehouse_timezone",
    "TELEGRAM_SECRET_NAME": "telegram_secret_name",
    "TELEGRAM_API_URL": "telegram_api_url",
    "TELEGRAM_TIMEOUT_SECONDS": "telegram_timeout_seconds",
}


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from environment variables; raise SettingsError naming the bad one."""
    environ = os.environ if environ is None else environ
    values = {field: environ[name] for name, field in _ENV_FIELDS.items() if environ.get(name)}
    try:
        return Settings(**values)
    except (ValidationError, json.JSONDecodeError) as error:
        env_names = {field: name for name, field in _ENV_FIELDS.items()}
        if isinstance(error, ValidationError):
            fields = [str(e["loc"][0]) if e["loc"] else "" for e in error.errors()]
            bad = [env_names.get(field, field or "the stock budget") for field in fields]
        else:
            bad = ["WAREHOUSE_ROUTES or CSV_FORMAT (not valid JSON)"]
        raise SettingsError(f"invalid configuration in {', '.join(bad)}: {error}") from error


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once."""
    return settings_from_env()
