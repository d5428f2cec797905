"""Which replies are opt-out or opt-in words."""

from __future__ import annotations

import pytest

from bot.services.replies import OptOutWords, normalise


@pytest.mark.parametrize("reply", [
    "STOP", "stop", " Stop! ", "STOP.", "¡stop!", "stop 🙏", "StopAll", "unsubscribe",
    "cancel", "quit", "end",
    "dayan", "Dayandır", "DAYANDIR", "abunəlikdən çıx", "ABUNƏLİKDƏN ÇIX", "Abunəlikdən  çıx!",
    "стоп", "Стоп!", "отписаться", "ОТПИСКА",
    "dur", "iptal", "İPTAL", "İptal", "abonelikten çık", "ABONELİKTEN ÇIK",
])
def test_a_whole_reply_of_a_stop_word_is_stop(reply: str) -> None:
    assert OptOutWords.of().intent(reply) == "stop"


@pytest.mark.parametrize("reply", ["START", "start", "Başla", "BAŞLA!", "старт", " Старт. "])
def test_start_words_are_start(reply: str) -> None:
    assert OptOutWords.of().intent(reply) == "start"


@pytest.mark.parametrize("reply", [
    "Please stop sending me these", "stop it", "don't stop", "stopp", "", "   ", "!!!",
    "thanks", "dayanın bir az", "restart",
])
def test_anything_else_is_nothing(reply: str) -> None:
    assert OptOutWords.of().intent(reply) is None


def test_the_words_are_configurable() -> None:
    words = OptOutWords.of(stop=["Yetər"], start=["Davam"])
    assert words.intent("yetər!") == "stop"
    assert words.intent("DAVAM") == "start"
    assert words.intent("stop") is None


def test_a_word_cannot_both_stop_and_start() -> None:
    with pytest.raises(ValueError, match="both"):
        OptOutWords.of(stop=["go"], start=["GO"])


def test_normalise_folds_case_dots_and_spaces() -> None:
    assert normalise("  ABUNƏLİKDƏN\tÇIX?! ") == "abunəlikdən çix"


@pytest.mark.parametrize("reply, expected", [
    ("Please stop sending me these", True),
    ("stop.", True),
    ("Artıq yazmayın, dayan!", True),
    ("Больше не пишите, стоп", True),
    ("I will stop by the shop tomorrow", True),  # the owner decides: better asked than lost
    ("Thanks, see you", False),
    ("stopwatch for sale?", False),  # a word, not a part of one
])
def test_a_longer_reply_mentioning_stop_is_noticed(reply: str, expected: bool) -> None:
    assert OptOutWords.of().mentions_stop(reply) is expected
