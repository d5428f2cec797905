"""Settings: defaults, parsing and one clear line per wrong value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import GatewayKind, RegistrationMode, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("TELEGRAM_BOT_TOKEN", "ADMIN_IDS", "DATABASE_PATH", "GATEWAY", "HTTP_PORT",
                 "DEFAULT_REGION", "DEFAULT_TIMEZONE", "REGISTRATION_MODE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_setup() -> None:
    s = load_settings()
    assert s.gateway is GatewayKind.SANDBOX
    assert s.registration_mode is RegistrationMode.APPROVAL
    assert (s.default_region, s.default_timezone) == ("AZ", "Asia/Baku")
    assert s.telegram_bot_token is None
    assert s.telegram_api_url == "https://api.telegram.org/bot"


def test_admin_ids_accept_commas_and_spaces(monkeypatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12345, 678")
    assert load_settings().admin_ids == frozenset({12345, 678})


def test_dotenv_is_read(tmp_path) -> None:
    (tmp_path / ".env").write_text("REGISTRATION_MODE=open\nDEFAULT_REGION=tr\n")
    s = load_settings()
    assert s.registration_mode is RegistrationMode.OPEN and s.default_region == "TR"


@pytest.mark.parametrize("name,value", [
    ("ADMIN_IDS", "alice"), ("DEFAULT_REGION", "XX"), ("DEFAULT_TIMEZONE", "Baku"),
    ("HTTP_PORT", "70000"), ("REGISTRATION_MODE", "maybe"), ("GATEWAY", "smoke-signals"),
])
def test_a_wrong_value_names_the_setting(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert len(exc.value.lines) == 1
    assert exc.value.lines[0].startswith(f"Invalid setting {name}:")


def test_the_token_is_never_printed(monkeypatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET-VALUE")
    s = load_settings()
    assert "SECRET-VALUE" not in repr(s) and "SECRET-VALUE" not in str(s)


def test_start_up_stops_with_one_line(tmp_path) -> None:
    env = {"PATH": "", "HTTP_PORT": "not-a-port", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "bot"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Invalid setting HTTP_PORT: Input should be a valid integer, unable to parse string as an"
        " integer"
    ]


def test_missing_token_says_how_to_get_one_and_how_to_try(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bot"], env={"PATH": "", "HOME": str(tmp_path)},
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "@BotFather" in proc.stderr and "python -m bot console" in proc.stderr


def test_env_example_documents_every_setting() -> None:
    import re
    from pathlib import Path

    from bot.config import Settings

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text("utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    assert {name.upper() for name in Settings.model_fields} == documented


def test_payment_details_pay_by_transfer_only_with_an_iban(monkeypatch) -> None:
    s = load_settings()
    assert not s.transfer_enabled and s.order_expiry_days == 3 and s.currency == "AZN"
    monkeypatch.setenv("PAYMENT_IBAN", "az21 nabz 0000 0000 1370 1000 1944")
    monkeypatch.setenv("PAYMENT_BANK", "  Kapital   Bank ")
    s = load_settings()
    assert s.transfer_enabled and s.payment_iban == "AZ21NABZ00000000137010001944"
    assert s.payment_bank == "Kapital Bank"


@pytest.mark.parametrize("name,value", [
    ("PAYMENT_IBAN", "AZ22NABZ00000000137010001944"),  # one check digit off
    ("PAYMENT_IBAN", "1234"), ("CURRENCY", "manat"), ("CURRENCY", "XTR"),
    ("ORDER_EXPIRY_DAYS", "0"),
])
def test_a_wrong_payment_setting_stops_start_up(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as exc:
        load_settings()
    assert exc.value.lines[0].startswith(f"Invalid setting {name}:")
