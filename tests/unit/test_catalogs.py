"""Every text the code uses exists in all three catalogs, with the same placeholders."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest

from bot.domain import (
    CampaignStatus,
    Language,
    LedgerKind,
    MessageStatus,
    OwnerStatus,
    WizardStep,
)
from bot.gateways.base import ErrorCategory, IncomingKind
from bot.gateways.webhook_client import REFUSALS as URL_REFUSALS
from bot.handlers.commands import COMMANDS
from bot.handlers.render import MENU_ITEMS
from bot.handlers.render_campaigns import WEEKDAYS
from bot.handlers.render_post_mortem import WARNING_KINDS
from bot.i18n import Translator, catalog, plural_index
from bot.services.alerts import CHOICES as ALERT_CHOICES
from bot.services.dispatcher import NOT_ON_WHATSAPP
from bot.services.imports import REASONS as PHONE_REASONS
from bot.services.imports import UNREADABLE_REASONS
from bot.services.planning import PRESETS
from bot.services.post_mortem import DIFFERENCES
from bot.services.template_engine import SYNTAX_REASONS
from bot.services.webhooks import EndpointState

ROOT = Path(__file__).resolve().parents[2] / "bot"
KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def namespaces() -> set[str]:
    return {key.split(".")[0] for key in catalog(Language.EN)}


def literal_keys() -> set[str]:
    """String constants in the code that look like catalog keys of a known namespace."""
    spaces, found = namespaces(), set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                # (an f-string's constant head, "templates.media_", is no key of its own)
                if KEY.match(value) and not value.endswith("_") \
                        and value.split(".")[0] in spaces:
                    found.add(value)
    return found


def raised_reasons(exception: str) -> set[str]:
    """First arguments of ``ValidationError("...")`` / ``NotAllowed("...")`` in the code."""
    found = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == exception and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def used_keys() -> set[str]:
    keys = literal_keys()
    keys |= {f"error.{r}" for r in raised_reasons("ValidationError")}
    keys |= {f"denied.{r}" for r in raised_reasons("NotAllowed")}
    keys |= {f"denied.status_{s.value}" for s in OwnerStatus}
    keys |= {f"owner_status.{s.value}" for s in OwnerStatus}
    keys |= {c.description for c in COMMANDS}
    keys |= {key for key, _ in MENU_ITEMS}
    keys |= {f"admin.{a}_usage" for a in ("suspend", "unsuspend")}
    keys |= {f"error.file_{r}" for r in UNREADABLE_REASONS}
    keys |= {f"import.reason.{r}" for r in PHONE_REASONS}
    # texts whose key the code builds from a value
    keys |= {f"templates.media_{kind}" for kind in ("image", "document")}
    keys |= {f"template.{reason}" for reason in
             (*SYNTAX_REASONS, "unknown_variable", "too_long", "empty")}
    keys |= {f"wizard.ask_{step}" for step in WizardStep if step.startswith("custom_")}
    keys |= {f"status.{s.value}" for s in CampaignStatus}
    keys |= {f"ledger.{k.value}" for k in LedgerKind}
    keys |= {f"weekday.{d}" for d in WEEKDAYS}
    keys |= {f"pacing.{name}" for name in (*PRESETS, "custom")}
    keys |= {f"alert.paused_{r}" for r in ("failure_spike", "sender_banned",
                                           "sender_restricted")}
    keys |= {f"alert.sender_{s}{m}" for s in ("banned", "restricted") for m in ("", "_moved")}
    keys |= {f"alert.{k}" for k in ("replanned", "run_finished")}
    keys |= {f"settings.alert_{name}" for name in ALERT_CHOICES}
    keys |= {f"campaigns.{a}_done" for a in ("resend", "countsent")}
    keys |= {f"stats.reason.{c.value}" for c in ErrorCategory} | {
        f"stats.reason.{NOT_ON_WHATSAPP}"}
    keys |= {f"numbers.kind_{k}" for k in ("sandbox", "waha", "cloud")}
    keys |= {f"numbers.add_{k}" for k in ("sandbox", "waha", "cloud")}
    keys |= {f"numbers.state_{s}" for s in ("working", "restricted", "banned", "linking",
                                            "stopped")}
    keys |= {f"error.webhook_{reason}" for reason in URL_REFUSALS}
    keys |= {f"webhooks.state_{s.value}" for s in EndpointState}
    # the contact card: what each message was, and where each of the owner's stands
    keys |= {f"card.kind.{k.value}" for k in IncomingKind} | {"card.kind.template"}
    keys |= {f"card.status.{s.value}" for s in MessageStatus}
    # the ban post-mortem: its title, the safe plan's differences, the guard's warnings
    keys |= {f"postmortem.title_{s}" for s in ("banned", "restricted")}
    keys |= {f"postmortem.diff.{code}" for code in DIFFERENCES}
    keys |= {f"postmortem.warning.{kind}" for kind in WARNING_KINDS}
    return keys


def test_the_scan_finds_the_texts() -> None:
    keys = used_keys()
    assert {"registration.ask_name", "error.not_own_contact", "cmd.language"} <= keys
    assert len(keys) > 40


@pytest.mark.parametrize("language", list(Language))
def test_catalog_is_complete(language: Language) -> None:
    missing = sorted(k for k in used_keys() if not catalog(language).get(k))
    assert missing == []


def forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


@pytest.mark.parametrize("language", [Language.AZ, Language.RU])
def test_translations_keep_the_placeholders(language: Language) -> None:
    english, other = catalog(Language.EN), catalog(language)
    assert set(other) == set(english)
    wrong = [k for k, text in english.items()
             if any(sorted(PLACEHOLDER.findall(form)) != sorted(PLACEHOLDER.findall(text_form))
                    for form in forms(other[k]) for text_form in forms(text))]
    assert wrong == []


PLURAL_FORMS = {Language.EN: 2, Language.AZ: 2, Language.RU: 3}


@pytest.mark.parametrize("language", list(Language))
def test_plural_texts_have_every_form_of_their_language(language: Language) -> None:
    source = (ROOT / "locales" / f"{language.value}.po").read_text("utf-8")
    header = re.search(r'"Plural-Forms: nplurals=(\d+); plural=([^;]+);', source)
    assert header and int(header[1]) == PLURAL_FORMS[language]
    english_plurals = {k for k, text in catalog(Language.EN).items() if isinstance(text, tuple)}
    texts = catalog(language)
    assert {k for k, text in texts.items() if isinstance(text, tuple)} == english_plurals
    incomplete = [k for k in english_plurals
                  if len(texts[k]) != PLURAL_FORMS[language] or not all(texts[k])]
    assert incomplete == []
    # each form counts: the forms differ by the number (ru 21 is "one", 11 is "many")
    assert all("{count}" in form for k in english_plurals for form in texts[k])


@pytest.mark.parametrize("language", list(Language))
def test_the_form_babel_picks_is_the_one_the_catalog_header_names(language: Language) -> None:
    source = (ROOT / "locales" / f"{language.value}.po").read_text("utf-8")
    expression = re.search(r'"Plural-Forms: nplurals=\d+; plural=([^;]+);', source)[1]
    by_header = gettext.c2py(expression)
    assert [plural_index(language, n, PLURAL_FORMS[language]) for n in range(1001)] == [
        by_header(n) for n in range(1001)]


@pytest.mark.parametrize(("language", "count", "shown"), [
    (Language.EN, 1, "1 rejected row:"), (Language.EN, 0, "0 rejected rows:"),
    (Language.EN, 1000, "1,000 rejected rows:"), (Language.AZ, 3, "3 sətir rədd edildi"),
    (Language.RU, 1, "Отклонена 1 строка."), (Language.RU, 21, "Отклонена 21 строка."),
    (Language.RU, 3, "Отклонены 3 строки."), (Language.RU, 11, "Отклонено 11 строк."),
    (Language.RU, 25, "Отклонено 25 строк."),
])
def test_a_count_picks_the_plural_form(language: Language, count: int, shown: str) -> None:
    assert shown in Translator(language)("import.rejected_caption", count=count)


def test_parameters_are_escaped_but_safe_html_is_kept() -> None:
    from bot.i18n import Safe

    tr = Translator(Language.EN)
    assert "&lt;script&gt;" in tr("admin.owner_line", id=1, name="<script>", company="x",
                                  status="y")
    assert tr("admin.decided", line=Safe("<b>ok</b>")) == "Done. <b>ok</b>"


def test_numbers_and_dates_follow_the_locale() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert Translator(Language.EN).number(1234567.5) == "1,234,567.5"
    assert Translator(Language.RU).number(1234567.5) == "1\xa0234\xa0567,5"
    assert Translator(Language.RU).date(moment, "Asia/Baku") != Translator(Language.EN).date(
        moment, "Asia/Baku")
    assert "13:30" in Translator(Language.AZ).datetime(moment, "Asia/Baku")


HEDGED_PLURAL = re.compile(r"\w\((s|es|lar|lər|а|и|ов|ей)\)")


@pytest.mark.parametrize("language", list(Language))
def test_no_text_hedges_its_plural(language: Language) -> None:
    """"1 batch(es)", "2 variant(s)", "nömrə(lər)": a count picks a plural form instead."""
    hedged = [k for k, text in catalog(language).items()
              if any(HEDGED_PLURAL.search(form) for form in forms(text))]
    assert hedged == []


@pytest.mark.parametrize(("language", "sizes", "shown"), [
    (Language.EN, (1, 2), ("1 contact,", "2 contacts,")),
    (Language.RU, (1, 3, 5, 21, 1000), ("1 контакт,", "3 контакта,", "5 контактов,",
                                        "21 контакт,", "1\xa0000 контактов,")),
    (Language.AZ, (1, 7), ("1 kontakt,", "7 kontakt,")),
])
def test_the_lists_screen_counts_contacts_in_the_owners_language(language, sizes, shown) -> None:
    from datetime import UTC, datetime

    from bot.domain import ContactList
    from bot.handlers.render_contacts import lists_overview

    created = datetime(2026, 3, 1, tzinfo=UTC)
    lists = [ContactList(id=i, owner_id=1, name=f"list {i}", created_at=created, size=size)
             for i, size in enumerate(sizes, 1)]
    text = lists_overview(Translator(language), lists).text
    assert [f"list {i}: {s}" in text for i, s in enumerate(shown, 1)] == [True] * len(shown)


def test_every_plural_text_is_asked_for_with_a_count() -> None:
    plurals = {k for k, text in catalog(Language.EN).items() if isinstance(text, tuple)}
    countless = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and node.args
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in plurals
                    and not any(k.arg in ("count", None) for k in node.keywords)):
                countless.append(f"{path.name}:{node.lineno} {node.args[0].value}")
    assert countless == []
