"""All configuration in one validated Settings class (environment prefix ``OMS_``).

Nothing happens at import time: ``load_settings()`` is called by ``create_app()`` and the CLI.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """The configuration cannot work (for example production without a secret key)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path | None = Field(default=None, description="Where the embedded database and secret live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    secret_key: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    sqlite_busy_timeout_s: float = Field(default=60.0, gt=0)
    # Longer than any request can take (SQLite's busy timeout included), or a slow first attempt
    # could be overtaken by its own retry.
    idempotency_lock_s: int = Field(default=300, ge=1, description="After this, an unfinished key is retried.")
    # Few threads: endpoints hold the GIL for most of their CPU time, and on 2 cores 2-3 threads per
    # process gave the most orders per second and the shortest tail (bench/README.md); add workers
    # (processes) to use more cores.
    threads: int = Field(
        default=3,
        ge=1,
        le=200,
        description="Requests handled at once per process: threads running endpoints, and as many again"
        " taking plain orders (POST /orders' short road).",
    )
    token_cache_s: float = Field(default=10.0, ge=0, description="How long a verified token is remembered.")
    log_level: str = "info"

    company_name: str = Field(default="oms demo store", description="The seller on invoices and packing slips.")
    # Links in emails and on labels point here (the address customers reach oms at).
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL for links sent to customers.")
    # Email. Without a host, messages are still rendered and kept (status "unsent") and can be
    # re-sent from GET /emails once SMTP is configured.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    mail_from: str = Field(default="oms <orders@oms.localhost>", description="The From: of customer emails.")
    # Outbound webhooks.
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # A subscriber URL that points inside our network (loopback, private, link-local: the cloud
    # metadata address) would let a webhook admin make oms call internal services. None: allowed
    # except when OMS_ENV=production.
    webhook_allow_private: bool | None = None

    def webhooks_may_reach_private(self) -> bool:
        return self.webhook_allow_private if self.webhook_allow_private is not None else self.env != "production"

    # Feedback: the request goes out this many days after delivery; its link works this many days.
    feedback_delay_days: float = Field(default=3, ge=0)
    feedback_link_days: int = Field(default=30, ge=1)
    # The outbox worker runs inside ``oms serve`` when it serves with one process; with several
    # processes (or OMS_EMBEDDED_WORKER=false) run ``oms worker`` beside it.
    embedded_worker: bool = True

    def resolved_data_dir(self) -> Path:
        path = self.data_dir or Path(platformdirs.user_data_dir("oms", appauthor=False))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / 'oms.db'}"

    def is_embedded(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The secret used to key token hashes and signatures.

        Production must set OMS_SECRET_KEY. Elsewhere a random key is generated on first run and
        kept beside the embedded database, so tokens survive restarts.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise ConfigError("OMS_SECRET_KEY is required when OMS_ENV=production")
        key_file = self.resolved_data_dir() / "secret_key"
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
