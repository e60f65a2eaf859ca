from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def async_database_url(url: str) -> str:
    """Accept the plain URL forms people paste and pick the async driver we ship."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path("data"), validation_alias="DATA_DIR")
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    redis_url: str = Field(default="", validation_alias="REDIS_URL")
    default_phone_region: str = Field(default="TR", validation_alias="DEFAULT_PHONE_REGION")
    max_attachment_bytes: int = Field(default=25 * 1024 * 1024, validation_alias="MAX_ATTACHMENT_BYTES")
    # Webhook and API bodies beyond this are refused with 413 before they are read whole.
    max_request_bytes: int = Field(default=1024 * 1024, validation_alias="MAX_REQUEST_BYTES")
    # The address providers reach this server at (https://support.shop.example), for the webhook URLs
    # the admin pastes into their consoles; the request's own address when unset.
    public_base_url: str = Field(default="", validation_alias="PUBLIC_BASE_URL")
    # Signs the links providers fetch a reply's files from; the same on every process (see inbox/signing.py).
    secret_key: str = Field(default="", validation_alias="SECRET_KEY", repr=False)
    # Signs the links that join a chat to a known customer (`onethread telegram link`); links are off when empty.
    link_secret: SecretStr = Field(default=SecretStr(""), validation_alias="LINK_SECRET")
    delivery_max_attempts: int = Field(default=6, validation_alias="DELIVERY_MAX_ATTEMPTS")
    # The first retry's wait; each one after waits twice as long (jittered, at most 10 minutes).
    delivery_backoff_seconds: float = Field(default=5.0, validation_alias="DELIVERY_BACKOFF_SECONDS")
    # A claim older than this is a worker that died mid-send: long enough to outlive any provider timeout.
    delivery_lease_seconds: int = Field(default=120, validation_alias="DELIVERY_LEASE_SECONDS")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return async_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'onethread.db').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"


@lru_cache
def get_settings() -> CoreSettings:
    return CoreSettings()
