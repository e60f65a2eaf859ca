from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# What a caller hears when nobody answers (or no forwarding number is set): the shop's language.
GREETING = "Merhaba, şu anda yanıt veremiyoruz. Lütfen sinyal sesinden sonra mesajınızı bırakın, size dönüş yapacağız."


class PhoneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWILIO_", env_file=".env", extra="ignore", populate_by_name=True)

    account_sid: str = ""
    # The same Auth Token signs Voice webhooks and fetches recordings.
    auth_token: SecretStr = SecretStr("")
    # Calls ring here first (the shop's phone) when set; unanswered ones go to voicemail.
    voice_forward_to: str = ""
    voice_greeting: str = GREETING
    voice_language: str = "tr-TR"
    # Seconds of silence on the forwarded line before the caller is offered voicemail.
    voice_ring_seconds: int = 20
    voice_max_message_seconds: int = 120
    api_base_url: str = "https://api.twilio.com"
    public_base_url: str = Field(default="", validation_alias="PUBLIC_BASE_URL")
    timeout_seconds: float = 30.0
