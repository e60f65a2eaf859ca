from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebchatSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIDGET_", env_file=".env", extra="ignore", populate_by_name=True)

    # The shop's backend signs a signed-in shopper's email (or account id) with it; empty: nobody is identified.
    identity_secret: SecretStr = SecretStr("")
    # Pages that may embed the widget, space or comma separated ("https://shop.example https://www.shop.example");
    # this server's own pages (the demo shop) always may.
    allowed_origins: str = ""
    max_upload_bytes: int = 10 * 1024 * 1024
    # An anonymous visitor's pace; a signed-in shopper gets twice as much.
    messages_per_minute: int = 20
