"""Packages defined by admins: New package question by question (or in one line), a wrong
answer saying what is wrong, Edit, Hide/Show, and what owners are offered."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services.packages import PackagesService, parse_field, parse_line
from bot.services.prompts import PromptKind, PromptsService

ADMIN = 4242


@pytest.fixture
def service(db, clock) -> PackagesService:
    return PackagesService(db, frozenset({ADMIN}), clock)


@pytest.fixture
def prompts(db, clock) -> PromptsService:
    return PromptsService(db, clock)


async def answer(service: PackagesService, prompts: PromptsService, text: str):
    asked = await prompts.pending_admin(ADMIN)
    assert asked is not None and asked.kind is PromptKind.PACKAGE_NEW
    return await service.answer_new(ADMIN, asked.payload, text)


async def test_an_admin_makes_a_package_question_by_question(service, prompts) -> None:
    await service.start_new(ADMIN)
    steps = [await answer(service, prompts, text)
             for text in ("  Starter  pack ", "1,000", "25.50", "500", "30")]
    assert [s.question for s in steps] == ["credits", "price", "stars", "days", None]
    package = steps[-1].package
    assert package is not None
    assert (package.name, package.credits, package.price_minor, package.currency,
            package.price_stars, package.validity_days, package.active) == (
        "Starter pack", 1000, 2550, "AZN", 500, 30, True)
    assert await prompts.pending_admin(ADMIN) is None  # answered in the same transaction
    assert await service.on_sale() == [package]


async def test_a_wrong_answer_says_what_is_wrong_and_the_question_stays(service, prompts) -> None:
    await service.start_new(ADMIN)
    await answer(service, prompts, "Starter")
    with pytest.raises(ValidationError) as wrong:
        await answer(service, prompts, "a lot")
    assert (wrong.value.reason, wrong.value.where) == ("package_credits", "credits")
    asked = await prompts.pending_admin(ADMIN)
    assert asked is not None and asked.payload == {"field": "credits",
                                                   "answers": {"name": "Starter"}}
    assert (await answer(service, prompts, "200")).question == "price"


async def test_the_first_question_takes_the_whole_package_in_one_line(service, prompts) -> None:
    await service.start_new(ADMIN)
    step = await answer(service, prompts, "Pro; 10 000; 90; 0; 0")
    assert step.package is not None
    assert (step.package.credits, step.package.price_minor, step.package.price_stars,
            step.package.validity_days) == (10000, 9000, 0, 0)
    with pytest.raises(ValidationError) as short:
        parse_line("Pro; 10000; 90")
    assert short.value.reason == "package_line"


async def test_a_taken_name_and_a_package_without_any_price_are_refused(service, prompts) -> None:
    await service.create(ADMIN, name="Starter", credits=100, price_minor=500, price_stars=0,
                         validity_days=0)
    await service.start_new(ADMIN)
    with pytest.raises(ValidationError) as taken:
        await answer(service, prompts, "STARTER")
    assert taken.value.reason == "package_name_taken"
    with pytest.raises(ValidationError) as free:
        await answer(service, prompts, "Gift; 100; 0; 0; 0")
    assert free.value.reason == "package_free"
    assert [p.name for p in await service.every(ADMIN)] == ["Starter"]


@pytest.mark.parametrize(("field", "typed", "kept"), [
    ("price", "25", 2500), ("price", "7,5 AZN", 750), ("price", "₼ 0.99", 99),
    ("credits", "1.000", 1000), ("credits", "1 000", 1000), ("stars", "250 ⭐", 250),
    ("days", "0", 0), ("name", " A   b ", "A b"),
])
def test_answers_are_read_as_admins_type_them(field, typed, kept) -> None:
    assert parse_field(field, typed) == kept


@pytest.mark.parametrize(("field", "typed"), [
    ("price", "1,000"), ("price", "-5"), ("price", "25.555"), ("credits", "1.5"),
    ("credits", "0"), ("stars", "lots"), ("days", "3651"), ("name", "x"), ("name", "y" * 33),
])
def test_answers_that_do_not_do_are_refused(field, typed) -> None:
    with pytest.raises(ValidationError) as wrong:
        parse_field(field, typed)
    assert wrong.value.where == field


async def test_edit_changes_one_field_and_hide_takes_it_off_sale(service, prompts) -> None:
    package = await service.create(ADMIN, name="Starter", credits=100, price_minor=500,
                                   price_stars=50, validity_days=30)
    await service.start_edit(ADMIN, package.id, "stars")
    asked = await prompts.pending_admin(ADMIN)
    assert asked is not None and asked.kind is PromptKind.PACKAGE_EDIT
    changed = await service.edit(ADMIN, package.id, "stars", "75")
    assert changed.price_stars == 75 and await prompts.pending_admin(ADMIN) is None
    assert (await service.edit(ADMIN, package.id, "price", "0")).price_minor == 0  # Stars only
    with pytest.raises(ValidationError) as free:  # no price left at all
        await service.edit(ADMIN, package.id, "stars", "0")
    assert free.value.reason == "package_free"
    hidden = await service.set_active(ADMIN, package.id, False)
    assert not hidden.active and await service.on_sale() == []
    with pytest.raises(NotFound):
        await service.offered(package.id)
    shown = await service.set_active(ADMIN, package.id, True)
    assert (await service.offered(package.id)) == shown


async def test_only_admins_define_packages(service) -> None:
    with pytest.raises(NotAllowed):
        await service.start_new(1)
    with pytest.raises(NotAllowed):
        await service.create(1, name="Mine", credits=100, price_minor=100, price_stars=0,
                             validity_days=0)
    with pytest.raises(NotAllowed):
        await service.every(1)


async def test_the_price_per_message_is_the_price_over_the_credits(service) -> None:
    package = await service.create(ADMIN, name="Starter", credits=1000, price_minor=2500,
                                   price_stars=400, validity_days=0)
    assert package.minor_per_message == Decimal("2.5")
    assert package.stars_per_message == Decimal("0.4")
