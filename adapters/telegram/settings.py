from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELEGRAM_", env_file=".env", extra="ignore", populate_by_name=True)

    # BotFather's token: it is part of every Bot API URL, so it must never reach a log or an error text.
    bot_token: SecretStr = SecretStr("")
    # What we ask Telegram to send in X-Telegram-Bot-Api-Secret-Token (1–256 of A-Z a-z 0-9 _ -).
    webhook_secret: SecretStr = SecretStr("")
    # Without the trailing "/bot": the file downloads live beside it at {api_base_url}/file/bot….
    api_base_url: str = "https://api.telegram.org"
    # For the t.me links `onethread telegram link` prints; asked from getMe when empty.
    bot_username: str = ""
    public_base_url: str = Field(default="", validation_alias="PUBLIC_BASE_URL")
    # Well under DELIVERY_LEASE_SECONDS, so a slow Telegram is a retry rather than an interrupted send.
    timeout_seconds: float = 30.0
