from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WhatsAppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWILIO_", env_file=".env", extra="ignore", populate_by_name=True)

    account_sid: str = ""
    # The Auth Token of the account that owns the number: it signs webhooks and authenticates sends.
    auth_token: SecretStr = SecretStr("")
    whatsapp_from: str = ""
    api_base_url: str = "https://api.twilio.com"
    # What Twilio calls: webhooks are signed over this URL, not the one a proxy hands us.
    public_base_url: str = Field(default="", validation_alias="PUBLIC_BASE_URL")
    # Well under DELIVERY_LEASE_SECONDS, so a slow Twilio is a retry rather than an interrupted send.
    timeout_seconds: float = 30.0
