from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MessengerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="META_", env_file=".env", extra="ignore", populate_by_name=True)

    # App Dashboard → Settings → Basic: signs every webhook (X-Hub-Signature-256).
    app_secret: SecretStr = SecretStr("")
    # Any string we choose and type into the webhook settings; Meta echoes it in the GET handshake.
    verify_token: SecretStr = SecretStr("")
    page_access_token: SecretStr = SecretStr("")
    # Optional: echoes of messages this app sent are dropped by it even before the send is recorded.
    app_id: str = ""
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"
    public_base_url: str = Field(default="", validation_alias="PUBLIC_BASE_URL")
    # Well under DELIVERY_LEASE_SECONDS, so a slow Graph is a verdict rather than an interrupted send.
    timeout_seconds: float = 30.0
    # Names change rarely and each lookup costs a Graph call inside the webhook.
    profile_cache_seconds: float = 24 * 3600
    profile_cache_size: int = 10_000
