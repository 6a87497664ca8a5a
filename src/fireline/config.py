"""Settings from environment variables (`FIRELINE_*`) and an optional `fireline.toml`.

Precedence: explicit arguments > environment > `fireline.toml` > defaults. The TOML file is
read from `FIRELINE_CONFIG` if set, else `./fireline.toml` if it exists. Settings are validated
once at start-up; an invalid value raises `ConfigError` whose message names the setting.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "FIRELINE_"


class ConfigError(Exception):
    """Start-up configuration is invalid; the message names the setting."""


class _TomlSource(PydanticBaseSettingsSource):
    """Reads `fireline.toml` (flat keys, plus an optional `[smtp]` table flattened to smtp_*)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
            for key, value in raw.items():
                if isinstance(value, dict):
                    for sub, subval in value.items():
                        self._data[f"{key}_{sub}"] = subval
                else:
                    self._data[key] = value

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


def _toml_path() -> Path | None:
    explicit = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"FIRELINE_CONFIG: file {explicit!r} does not exist")
        return path
    default = Path("fireline.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./fireline.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs sessions and one-time links. Required with PostgreSQL; generated "
        "and kept beside the SQLite file otherwise.",
    )
    public_base_url: str = Field(default="http://127.0.0.1:8000")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    cookie_secure: bool = False
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=10)
    embedded_worker: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_batch_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Due jobs one worker claims at a time. Smaller batches spread a burst "
        "over more worker processes; larger ones cost fewer round trips.",
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "fireline@localhost"
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql://")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls, _toml_path()))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """Path of the SQLite file, or None for PostgreSQL or an in-memory database."""
        if not self.is_sqlite:
            return None
        rest = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        rest = rest.split("?", 1)[0]
        if not rest or rest == ":memory:":
            return None
        return Path(rest)

    def resolved_secret_key(self) -> str:
        """The secret key; for a SQLite file without one, create and keep one beside it."""
        if self.secret_key:
            return self.secret_key
        path = self.sqlite_path()
        if path is None:
            if self.is_sqlite:
                return secrets.token_urlsafe(32)
            raise ConfigError("FIRELINE_SECRET_KEY: required when the database is PostgreSQL")
        key_file = path.with_name(path.name + ".secret")
        if key_file.is_file():
            return key_file.read_text(encoding="utf-8").strip()
        key = secrets.token_urlsafe(32)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key, encoding="utf-8")
        key_file.chmod(0o600)
        return key


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings; raise ConfigError naming the first bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()} (or '{name}' in fireline.toml): {first['msg']}"
        ) from exc
