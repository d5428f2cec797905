"""Templates: composing them in chat, checking them, previewing them for real contacts.

The language itself (variables, fallbacks, spintax) is ``template_engine``. A template
being composed is a draft stored per owner (``template_drafts``), so a restart or a day
away resumes it. The composer's steps: ``name`` (a new template's name), then ``text``:
every text the owner sends (or forwards, formatting converted to WhatsApp's) is checked
and, when clean, added as a variant; ``save`` checks them all again and stores the template.
"""

from __future__ import annotations

import builtins
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.clock import Clock, utcnow
from bot.domain import CloudTemplate, Contact, Template
from bot.errors import NotAllowed, NotFound, ValidationError
from bot.services import prompts
from bot.services.template_engine import CompiledTemplate, Problem, check, compile_template
from bot.storage import contacts as contacts_repo
from bot.storage import lists, templates
from bot.storage.db import Database

NAME_MAX = 64
VARIANTS_MAX = 10
BUILTIN_VARIABLES = ("name", "first_name", "phone")
PREVIEW_CONTACTS = 3
_META_NAME = re.compile(r"[a-z0-9_]{1,512}")
_META_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


def contact_values(contact: Contact) -> dict[str, str]:
    """The variables a contact gives a template."""
    values = dict(contact.attributes)
    name = (contact.name or "").strip()
    values["name"] = name
    values["first_name"] = name.split()[0] if name else ""
    values["phone"] = contact.phone
    return values


_NO_DRAWS = random.Random(0)  # what a text without spintax draws from: nothing it shows


def message_rng(seed: int, message_id: int) -> random.Random:
    """The draws of a campaign message's spintax (its campaign's seed, its own id): the
    same text when it is sent again after a retry, and in the campaign's report."""
    return random.Random(seed * 1_000_003 + message_id)


@dataclass(slots=True)
class TemplateDraft:
    step: str  # "name" | "text"
    name: str = ""
    variants: list[str] = field(default_factory=list)
    media_kind: str | None = None
    media_file_id: str | None = None
    template_id: int | None = None  # editing this one
    left: bool = False  # the owner went elsewhere (a command): kept, but not waiting

    @property
    def has_work(self) -> bool:
        """Something to come back to: texts, or a new template's name."""
        return bool(self.variants) or (self.template_id is None and bool(self.name))

    def to_json(self) -> dict:
        return {"step": self.step, "name": self.name, "variants": self.variants,
                "media_kind": self.media_kind, "media_file_id": self.media_file_id,
                "template_id": self.template_id, "left": self.left}

    @classmethod
    def from_json(cls, data: Mapping) -> TemplateDraft:
        return cls(step=data.get("step", "name"), name=data.get("name", ""),
                   variants=list(data.get("variants", [])), media_kind=data.get("media_kind"),
                   media_file_id=data.get("media_file_id"), template_id=data.get("template_id"),
                   left=bool(data.get("left", False)))


@dataclass(frozen=True, slots=True)
class Preview:
    template: Template
    samples: list[tuple[Contact, str]]  # a real contact and its rendered text
    distinct: int  # different texts spintax can make, all variants together


class TemplateProblems(ValidationError):
    """A text that cannot be saved: every problem, with its line and column."""

    def __init__(self, problems: list[Problem], variant: int | None = None) -> None:
        first = problems[0]
        super().__init__(first.reason, where=f"line {first.line}, column {first.column}")
        self.problems = problems
        self.variant = variant


class TemplatesService:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock
        self._compiled: dict[tuple[int, str], CompiledTemplate] = {}

    async def list(self, owner_id: int) -> list[Template]:
        return await templates.for_owner(self._db.reader, owner_id)

    async def get(self, owner_id: int, template_id: int) -> Template:
        template = await templates.get(self._db.reader, owner_id, template_id)
        if template is None:
            raise NotFound("template", template_id=template_id)
        return template

    async def known_variables(self, owner_id: int) -> set[str]:
        return set(BUILTIN_VARIABLES) | await lists.owner_variables(self._db.reader, owner_id)

    # --- composing ----------------------------------------------------------------------

    async def draft(self, owner_id: int) -> TemplateDraft | None:
        data = await templates.get_draft(self._db.reader, owner_id)
        return TemplateDraft.from_json(data) if data is not None else None

    async def drafts(self) -> builtins.list[tuple[int, TemplateDraft]]:
        """Every composer waiting for the owner (to resume the conversations at start);
        not those the owner left for a command."""
        found = [(owner_id, TemplateDraft.from_json(d))
                 for owner_id, d in await templates.drafts(self._db.reader)]
        return [(owner_id, draft) for owner_id, draft in found if not draft.left]

    async def leave(self, owner_id: int) -> None:
        """The owner typed a command: the draft is kept (``/newtemplate`` offers it again)
        but no longer waits for a text."""
        draft = await self.draft(owner_id)
        if draft is not None and not draft.left:
            draft.left = True
            async with self._db.transaction() as tx:
                await templates.save_draft(tx, owner_id, draft.to_json(), self._clock())

    async def resume(self, owner_id: int) -> TemplateDraft:
        """The draft the owner left, waiting again."""
        draft = await self._require_draft(owner_id)
        await self._save_draft(owner_id, draft)
        return draft

    async def start(self, owner_id: int, template_id: int | None = None) -> TemplateDraft:
        """A new template (asks its name first), or new texts for an existing one."""
        if template_id is None:
            draft = TemplateDraft(step="name")
        else:
            existing = await self.get(owner_id, template_id)
            draft = TemplateDraft(step="text", name=existing.name, template_id=existing.id,
                                  media_kind=existing.media_kind,
                                  media_file_id=existing.media_file_id)
        await self._save_draft(owner_id, draft)
        return draft

    async def set_name(self, owner_id: int, raw: str) -> TemplateDraft:
        draft = await self._require_draft(owner_id)
        name = " ".join(raw.split())
        if not name:
            raise ValidationError("too_short", where="name")
        if len(name) > NAME_MAX:
            raise ValidationError("too_long", where="name", limit=NAME_MAX)
        if await templates.name_taken(self._db.reader, owner_id, name,
                                      other_than=draft.template_id):
            raise ValidationError("template_name_taken", where="name", name=name)
        draft.name, draft.step = name, "text"
        await self._save_draft(owner_id, draft)
        return draft

    async def add_text(
        self, owner_id: int, text: str | None, *, media_kind: str | None = None,
        media_file_id: str | None = None,
    ) -> TemplateDraft:
        """A text (and/or a photo or document) for the draft. A clean text becomes the next
        variant; a text with problems raises ``TemplateProblems`` and changes nothing."""
        draft = await self._require_draft(owner_id)
        if draft.step != "text":
            raise ValidationError("unexpected_text", where="template")
        text = (text or "").strip()
        if text:
            if len(draft.variants) >= VARIANTS_MAX:
                raise ValidationError("too_many_variants", where="template", limit=VARIANTS_MAX)
            problems = check(text, await self.known_variables(owner_id))
            if problems:
                raise TemplateProblems(problems)
            draft.variants.append(text)
        elif media_file_id is None:
            raise ValidationError("empty", where="template")
        if media_file_id is not None:
            draft.media_kind, draft.media_file_id = media_kind, media_file_id
        await self._save_draft(owner_id, draft)
        return draft

    async def drop_last(self, owner_id: int) -> TemplateDraft:
        draft = await self._require_draft(owner_id)
        if draft.variants:
            draft.variants.pop()
        await self._save_draft(owner_id, draft)
        return draft

    async def drop_media(self, owner_id: int) -> TemplateDraft:
        draft = await self._require_draft(owner_id)
        draft.media_kind = draft.media_file_id = None
        await self._save_draft(owner_id, draft)
        return draft

    async def cancel(self, owner_id: int) -> TemplateDraft | None:
        """Drop the composer's draft; returns it (an edit's template stays as it was)."""
        async with self._db.transaction() as tx:
            data = await templates.get_draft(tx, owner_id)
            await templates.drop_draft(tx, owner_id)
        return TemplateDraft.from_json(data) if data is not None else None

    async def save(self, owner_id: int) -> Template:
        draft = await self._require_draft(owner_id)
        if not draft.variants:
            raise ValidationError("no_variants", where="template")
        known = await self.known_variables(owner_id)
        for n, text in enumerate(draft.variants, start=1):
            problems = check(text, known)
            if problems:
                raise TemplateProblems(problems, variant=n)
        now = self._clock()
        saved: Template | None
        async with self._db.transaction() as tx:
            if await templates.name_taken(tx, owner_id, draft.name, other_than=draft.template_id):
                raise ValidationError("template_name_taken", where="name", name=draft.name)
            if draft.template_id is None:
                saved = await templates.add(tx, owner_id, draft.name, draft.variants,
                                            draft.media_kind, draft.media_file_id, now)
            else:
                if await templates.get(tx, owner_id, draft.template_id) is None:
                    raise NotFound("template", template_id=draft.template_id)
                await templates.update(tx, owner_id, draft.template_id, draft.name,
                                       draft.variants, draft.media_kind, draft.media_file_id,
                                       now)
                saved = await templates.get(tx, owner_id, draft.template_id)
            await templates.drop_draft(tx, owner_id)
        assert saved is not None
        return saved

    # --- the approved twin for Cloud API numbers ---------------------------------------

    async def link_cloud(self, owner_id: int, template_id: int, text: str) -> Template:
        """``name language [variable ...]`` (e.g. ``spring_sale az name city``): the
        template Meta approved, its language, and which of our variables fill its
        ``{{1}}``, ``{{2}}``, ... in order. ``-`` unlinks it."""
        template = await self.get(owner_id, template_id)
        words = text.split()
        cloud = None
        if words != ["-"]:
            if len(words) < 2:
                raise ValidationError("cloud_template_format", where="template")
            name, language, params = words[0], words[1], words[2:]
            if not _META_NAME.fullmatch(name):
                raise ValidationError("cloud_template_name", where="template", value=name)
            if not _META_LANGUAGE.fullmatch(language):
                raise ValidationError("cloud_template_language", where="template",
                                      value=language)
            known = await self.known_variables(owner_id)
            cleaned = [p.strip("{}") for p in params]
            unknown = [p for p in cleaned if p not in known]
            if unknown:
                raise ValidationError("cloud_template_variable", where="template",
                                      value=unknown[0], known=", ".join(sorted(known)))
            cloud = CloudTemplate(name, language, tuple(cleaned))
        async with self._db.transaction() as tx:
            await templates.set_cloud(tx, owner_id, template.id, cloud, self._clock())
            await prompts.close(tx, owner_id, prompts.PromptKind.CLOUD_TEMPLATE)
        return await self.get(owner_id, template_id)

    # --- using --------------------------------------------------------------------------

    async def delete(self, owner_id: int, template_id: int) -> Template:
        async with self._db.transaction() as tx:
            template = await templates.get(tx, owner_id, template_id)
            if template is None:
                raise NotFound("template", template_id=template_id)
            if await templates.in_use(tx, owner_id, template_id):
                raise NotAllowed("template_in_use")
            await templates.delete(tx, owner_id, template_id)
        return template

    def message_text(self, template: Template, variant: int, seed: int, message_id: int,
                     values: Mapping[str, str]) -> str:
        """A campaign message's text, as the dispatcher sends it (and the report shows it):
        its variant, its recipient's values, spintax drawn by ``message_rng`` (a text with
        one way to read draws nothing that matters: no generator is seeded for it)."""
        compiled = self.compiled(template, variant)
        rng = message_rng(seed, message_id) if compiled.distinct_texts() > 1 else _NO_DRAWS
        return compiled.render(values, rng)

    def compiled(self, template: Template, variant: int) -> CompiledTemplate:
        """A variant compiled once (kept by its text: an edit makes a new entry)."""
        text = template.variants[variant % len(template.variants)]
        key = (template.id, text)
        found = self._compiled.get(key)
        if found is None:
            if len(self._compiled) > 1000:
                self._compiled.clear()
            found = self._compiled[key] = compile_template(text)
        return found

    async def preview(self, owner_id: int, template_id: int, list_id: int,
                      seed: int | None = None) -> Preview:
        template = await self.get(owner_id, template_id)
        if await lists.get(self._db.reader, owner_id, list_id) is None:
            raise NotFound("list", list_id=list_id)
        people = await contacts_repo.sample(self._db.reader, owner_id, list_id,
                                            PREVIEW_CONTACTS)
        rng = random.Random(seed)
        samples = [(contact, self.compiled(template, n).render(contact_values(contact), rng))
                   for n, contact in enumerate(people)]
        distinct = sum(self.compiled(template, n).distinct_texts()
                       for n in range(len(template.variants)))
        return Preview(template, samples, distinct)

    async def _require_draft(self, owner_id: int) -> TemplateDraft:
        draft = await self.draft(owner_id)
        if draft is None:
            raise NotFound("template_draft")
        return draft

    async def _save_draft(self, owner_id: int, draft: TemplateDraft) -> None:
        """Any change means the owner is back at it: the draft waits again."""
        draft.left = False
        async with self._db.transaction() as tx:
            await templates.save_draft(tx, owner_id, draft.to_json(), self._clock())
