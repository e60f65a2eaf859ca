"""A channel adapter's settings as the admin's Channels page lists them: each environment
variable, and its value unless it is a secret (then only whether it is set)."""

from dataclasses import dataclass

from pydantic import SecretStr
from pydantic_settings import BaseSettings


@dataclass(frozen=True, slots=True)
class SettingRow:
    variable: str
    # None for a secret: the page says "set" or "not set", never the value.
    value: str | None
    secret: bool
    is_set: bool


def setting_rows(settings: BaseSettings | None) -> list[SettingRow]:
    if settings is None:
        return []
    prefix = str(settings.model_config.get("env_prefix", ""))
    rows = []
    for name, field in type(settings).model_fields.items():
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else (prefix + name).upper()
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            rows.append(SettingRow(variable, None, True, bool(value.get_secret_value())))
        else:
            text = "" if value is None else str(value)
            rows.append(SettingRow(variable, text, False, bool(text)))
    return rows
