from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ShopifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPIFY_", env_file=".env", extra="ignore")

    # Settings → Notifications → Webhooks shows it ("Your webhooks will be signed with …"), or the
    # app's client secret for an app's subscriptions. Empty: /webhooks/shopify answers 404.
    webhook_secret: SecretStr = SecretStr("")
    # POS location id → the store's name agents know it by, as JSON: {"71234567890": "Kadıköy"}.
    # Shopify's order names only the location's id; an unmapped till shows "POS location <id>".
    locations: dict[str, str] = {}
