"""config.py: typed LOGDIG_* settings with local-mode defaults and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, describe, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults_select_local_mode():
    settings = load_settings({})
    assert settings.local_queue and settings.local_lake
    assert (settings.host, settings.port, settings.min_messages) == ("127.0.0.1", 8000, 100)
    assert settings.lake_dir == Path("./data/lake")


def test_values_are_parsed_and_typed():
    settings = load_settings({"LOGDIG_PORT": "9001", "LOGDIG_ANONYMIZE_IP": "false",
                              "LOGDIG_TOKENS": "abc,def=https://a.example|https://b.example:8443",
                              "LOGDIG_ALLOWED_ORIGINS": "https://a.example, https://c.example",
                              "LOGDIG_LAKE_PREFIX": "clicks", "LOGDIG_QUEUE_URL": "https://sqs/q"})
    assert settings.port == 9001 and settings.anonymize_ip is False
    assert settings.tokens == {"abc": (), "def": ("https://a.example", "https://b.example:8443")}
    assert settings.allowed_origins == ("https://a.example", "https://c.example")
    assert settings.lake_prefix == "clicks/"
    assert not settings.local_queue


@pytest.mark.parametrize("name, value, says", [
    ("LOGDIG_PORT", "eighty", "LOGDIG_PORT='eighty'"),
    ("LOGDIG_PORT", "70000", "between 0 and 65535"),
    ("LOGDIG_SERVICE_NAME", "LogDig_Prod", "lowercase letters"),
    ("LOGDIG_ANONYMIZE_IP", "maybe", "true or false"),
    ("LOGDIG_TOKENS", "ok,bad token", "'bad token'"),
    ("LOGDIG_ALLOWED_ORIGINS", "example.com", "https://example.com"),
    ("LOGDIG_LAKE_PREFIX", "/abs/", "relative key prefix"),
    ("LOGDIG_MIN_MESSAGES", "0", "between 1"),
])
def test_invalid_values_name_the_variable_and_value(name, value, says):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert name in str(caught.value) and says in str(caught.value)


def test_readme_documents_every_setting():
    text = README.read_text()
    missing = [name for name, _, _ in describe() if f"`{name}`" not in text]
    assert missing == []
