"""The template composer, checks against the owner's variables, deleting and previewing."""

from __future__ import annotations

import json

import pytest

from bot.domain import Campaign, Language
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services.templates import NAME_MAX, VARIANTS_MAX, TemplateProblems, TemplatesService
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts, lists, owners, templates
from bot.storage.db import Database


@pytest.fixture
def service(db, clock) -> TemplatesService:
    return TemplatesService(db, clock)


async def add_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


async def add_list(db: Database, clock, oid: int, name: str, rows,
                   variables: list[str]) -> int:
    """A list as an import leaves it: contacts, members and the variables they brought."""
    async with db.transaction() as tx:
        created = await lists.create(tx, oid, name, clock())
        await contacts.upsert(tx, oid, rows, clock())
        await contacts.add_to_list(tx, oid, created.id, [r[0] for r in rows], clock())
        await tx.execute(lists.ADD_VARIABLES_SQL, (json.dumps(variables), oid, created.id))
    return created.id


async def compose(service: TemplatesService, oid: int, name: str, *texts: str):
    await service.start(oid)
    await service.set_name(oid, name)
    for text in texts:
        await service.add_text(oid, text)
    return await service.save(oid)


async def test_a_new_template_is_composed_and_saved(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    assert (await service.start(oid)).step == "name"
    draft = await service.set_name(oid, "  November   promo ")
    assert (draft.name, draft.step) == ("November promo", "text")
    await service.add_text(oid, "  Salam {{ name | dostum }}!  ")
    await service.add_text(oid, "{Hi|Hello} {{ first_name }}")
    saved = await service.save(oid)
    assert saved.name == "November promo"
    assert saved.variants == ["Salam {{ name | dostum }}!", "{Hi|Hello} {{ first_name }}"]
    assert await service.draft(oid) is None
    assert await service.list(oid) == [saved]
    assert await service.get(oid, saved.id) == saved


async def test_an_unknown_variable_is_shown_where_it_is(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "Salam {{ name }}")
    with pytest.raises(TemplateProblems) as exc:
        await service.add_text(oid, "Salam!\nBonus: {{ bonus }} {{ name }} {{ level }}")
    error = exc.value
    assert (error.reason, error.where) == ("unknown_variable", "line 2, column 8")
    assert [(p.line, p.column, p.detail) for p in error.problems] == [
        (2, 8, "bonus"), (2, 31, "level")]
    assert (await service.draft(oid)).variants == ["Salam {{ name }}"]  # nothing changed


async def test_a_syntax_problem_is_refused_with_its_position(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    with pytest.raises(TemplateProblems) as exc:
        await service.add_text(oid, "Hi {there|friend")
    assert (exc.value.reason, exc.value.where) == ("unclosed_spintax", "line 1, column 4")
    assert (await service.draft(oid)).variants == []


async def test_the_variables_of_the_owners_lists_are_known(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    other = await add_owner(db, clock, 2)
    await add_list(db, clock, oid, "Customers", [], ["city", "bonus"])
    await add_list(db, clock, oid, "VIP", [], ["city", "level"])
    await add_list(db, clock, other, "Theirs", [], ["secret"])
    assert await service.known_variables(oid) == {
        "name", "first_name", "phone", "city", "bonus", "level"}
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "{{ city }}: {{ bonus }} for {{ level }}")
    with pytest.raises(TemplateProblems) as exc:  # another owner's columns are not ours
        await service.add_text(oid, "{{ secret }}")
    assert exc.value.problems[0].detail == "secret"


async def test_saving_checks_every_text_again(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    list_id = await add_list(db, clock, oid, "Customers", [], ["city"])
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "Hello {{ name }}")
    await service.add_text(oid, "Hello\nfrom {{ city }}")
    async with db.transaction() as tx:  # the list that had a city is deleted meanwhile
        await lists.delete(tx, oid, list_id)
    with pytest.raises(TemplateProblems) as exc:
        await service.save(oid)
    assert exc.value.variant == 2
    assert exc.value.where == "line 2, column 6"
    assert await service.list(oid) == []
    assert len((await service.draft(oid)).variants) == 2  # kept, to be fixed


async def test_a_template_needs_a_text(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    with pytest.raises(ValidationError) as exc:
        await service.add_text(oid, "Too early: the name comes first")
    assert exc.value.reason == "unexpected_text"
    await service.set_name(oid, "Promo")
    with pytest.raises(ValidationError) as exc:
        await service.add_text(oid, "   ")
    assert exc.value.reason == "empty"
    with pytest.raises(ValidationError) as exc:
        await service.save(oid)
    assert exc.value.reason == "no_variants"


async def test_names_are_checked(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    for bad, reason in (("   ", "too_short"), ("x" * (NAME_MAX + 1), "too_long")):
        with pytest.raises(ValidationError) as exc:
            await service.set_name(oid, bad)
        assert exc.value.reason == reason
    assert (await service.draft(oid)).step == "name"
    assert (await service.set_name(oid, "x" * NAME_MAX)).step == "text"


async def test_a_name_is_unique_per_owner(service, db, clock) -> None:
    a = await add_owner(db, clock, 1)
    b = await add_owner(db, clock, 2)
    await compose(service, a, "Promo", "Hello")
    await service.start(a)
    with pytest.raises(ValidationError) as exc:
        await service.set_name(a, " Promo ")
    assert exc.value.reason == "template_name_taken"
    theirs = await compose(service, b, "Promo", "Salam")  # another owner may use it
    assert theirs.owner_id == b and theirs.name == "Promo"
    assert [t.name for t in await service.list(a)] == ["Promo"]


async def test_two_drafts_racing_for_one_name_save_once(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "Hello")
    async with db.transaction() as tx:  # saved meanwhile from another chat
        await templates.add(tx, oid, "Promo", ["Other"], None, None, clock())
    with pytest.raises(ValidationError) as exc:
        await service.save(oid)
    assert exc.value.reason == "template_name_taken"
    assert len(await service.list(oid)) == 1
    assert await service.draft(oid) is not None


async def test_editing_replaces_the_texts(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    original = await compose(service, oid, "Promo", "Old one", "Old two")
    draft = await service.start(oid, original.id)
    assert (draft.step, draft.name, draft.variants) == ("text", "Promo", [])
    await service.add_text(oid, "New {{ name | friend }}")
    saved = await service.save(oid)
    assert saved.id == original.id and saved.name == "Promo"  # its own name is not "taken"
    assert saved.variants == ["New {{ name | friend }}"]
    assert await service.list(oid) == [saved]


async def test_editing_can_rename(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    original = await compose(service, oid, "Promo", "Hello")
    await compose(service, oid, "Other", "Hi")
    await service.start(oid, original.id)
    with pytest.raises(ValidationError):
        await service.set_name(oid, "Other")
    await service.set_name(oid, "Promo 2")
    await service.add_text(oid, "Hello again")
    assert (await service.save(oid)).name == "Promo 2"


async def test_another_owners_template_cannot_be_edited_or_deleted(service, db, clock) -> None:
    a = await add_owner(db, clock, 1)
    b = await add_owner(db, clock, 2)
    mine = await compose(service, a, "Promo", "Hello")
    for action in (service.start, service.get, service.delete):
        with pytest.raises(NotFound):
            await action(b, mine.id)
    assert await service.list(a) == [mine]


async def test_the_last_text_and_the_media_can_be_taken_back(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "One")
    draft = await service.add_text(oid, "Two", media_kind="image", media_file_id="photo-1")
    assert (draft.variants, draft.media_kind, draft.media_file_id) == (
        ["One", "Two"], "image", "photo-1")
    draft = await service.add_text(oid, None, media_kind="document", media_file_id="doc-2")
    assert draft.variants == ["One", "Two"] and draft.media_file_id == "doc-2"
    assert (await service.drop_last(oid)).variants == ["One"]
    draft = await service.drop_media(oid)
    assert draft.media_kind is None and draft.media_file_id is None
    saved = await service.save(oid)
    assert saved.variants == ["One"] and saved.media_file_id is None


async def test_at_most_ten_texts(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    for n in range(VARIANTS_MAX):
        await service.add_text(oid, f"Text {n}")
    with pytest.raises(ValidationError) as exc:
        await service.add_text(oid, "One too many")
    assert exc.value.reason == "too_many_variants"
    assert len((await service.draft(oid)).variants) == VARIANTS_MAX


async def test_a_cancelled_composer_leaves_nothing(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    await service.start(oid)
    await service.set_name(oid, "Promo")
    await service.add_text(oid, "Hello")
    assert [o for o, _ in await service.drafts()] == [oid]
    await service.cancel(oid)
    assert await service.draft(oid) is None and await service.drafts() == []
    assert await service.list(oid) == []
    with pytest.raises(NotFound):
        await service.add_text(oid, "Hello")


async def test_the_composer_survives_a_restart(db, clock) -> None:
    first = TemplatesService(db, clock)
    oid = await add_owner(db, clock, 1)
    await first.start(oid)
    await first.set_name(oid, "Promo")
    await first.add_text(oid, "Hello")
    second = TemplatesService(db, clock)
    assert [(o, d.step, d.variants) for o, d in await second.drafts()] == [
        (oid, "text", ["Hello"])]
    assert (await second.save(oid)).variants == ["Hello"]


async def test_a_template_in_use_cannot_be_deleted(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    template = await compose(service, oid, "Promo", "Hello")
    async with db.transaction() as tx:
        campaign = await campaigns_repo.create_draft(tx, oid, "", clock())
        campaign.template_id = template.id
        campaign.schedule(clock())
        await campaigns_repo.save(tx, campaign, clock())
    with pytest.raises(NotAllowed) as exc:
        await service.delete(oid, template.id)
    assert exc.value.reason == "template_in_use"
    assert await service.list(oid) == [template]
    await cancel(db, clock, campaign)
    assert await service.delete(oid, template.id) == template
    assert await service.list(oid) == []
    with pytest.raises(NotFound):
        await service.delete(oid, template.id)


async def cancel(db: Database, clock, campaign: Campaign) -> None:
    async with db.transaction() as tx:
        campaign.cancel(clock())
        await campaigns_repo.save(tx, campaign, clock())


async def test_a_draft_campaign_does_not_keep_a_template(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    template = await compose(service, oid, "Promo", "Hello")
    async with db.transaction() as tx:
        draft = await campaigns_repo.create_draft(tx, oid, "", clock())
        draft.template_id = template.id
        await campaigns_repo.save(tx, draft, clock())
    await service.delete(oid, template.id)
    assert await service.list(oid) == []


PEOPLE = [
    ("+994501234567", "Əli Həsənov", '{"city": "Bakı"}'),
    ("+994551234567", None, '{"city": "   "}'),
    ("+994701234567", "Leyla", "{}"),
    ("+994771234567", "Not Shown", '{"city": "Şəki"}'),
]


async def test_a_preview_shows_real_contacts_with_fallbacks(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    list_id = await add_list(db, clock, oid, "Customers", PEOPLE, ["city"])
    template = await compose(
        service, oid, "Promo",
        "{Salam|Hello} {{ first_name | dostum }} from {{ city | Gəncə }}!",
        "Hi {{ name | friend }} ({{ phone }}), {{ city | everywhere }} \\{ok\\}",
    )
    preview = await service.preview(oid, template.id, list_id, seed=7)
    assert [c.phone for c, _ in preview.samples] == [p[0] for p in PEOPLE[:3]]
    texts = [text for _, text in preview.samples]
    assert texts[0] in ("Salam Əli from Bakı!", "Hello Əli from Bakı!")
    assert texts[1] == "Hi friend (+994551234567), everywhere {ok}"  # blank city: fallback
    assert texts[2] in ("Salam Leyla from Gəncə!", "Hello Leyla from Gəncə!")
    assert not any("{{" in t or "}}" in t or "|" in t for t in texts)
    assert preview.distinct == 3
    assert (await service.preview(oid, template.id, list_id, seed=7)).samples == preview.samples


async def test_a_preview_needs_the_owners_own_template_and_list(service, db, clock) -> None:
    a = await add_owner(db, clock, 1)
    b = await add_owner(db, clock, 2)
    a_list = await add_list(db, clock, a, "Customers", PEOPLE, ["city"])
    b_list = await add_list(db, clock, b, "Theirs", [], [])
    a_template = await compose(service, a, "Promo", "Hello")
    b_template = await compose(service, b, "Promo", "Hello")
    with pytest.raises(NotFound):
        await service.preview(b, a_template.id, b_list)
    with pytest.raises(NotFound):
        await service.preview(b, b_template.id, a_list)
    assert (await service.preview(b, b_template.id, b_list)).samples == []


async def test_an_edited_text_is_compiled_afresh(service, db, clock) -> None:
    oid = await add_owner(db, clock, 1)
    template = await compose(service, oid, "Promo", "One {{ name }}", "Two {{ name }}")
    assert service.compiled(template, 3) is service.compiled(template, 1)  # 3 % 2 variants
    assert service.compiled(template, 1).text == "Two {{ name }}"
    await service.start(oid, template.id)
    await service.add_text(oid, "Three {{ name }}")
    edited = await service.save(oid)
    assert service.compiled(edited, 0).text == "Three {{ name }}"
