"""Rendering for contacts, lists and imports. Pure: data in, text and keyboards out."""

from __future__ import annotations

from bot.domain import Contact, ContactList
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.contacts import ImportReport, Progress
from bot.storage.imports import ImportRecord

MAX_LIST_BUTTONS = 20



def lists_overview(tr: Translator, lists: list[ContactList]) -> Screen:
    if not lists:
        return Screen(tr("lists.empty"), keyboard([(tr("menu.back"), "menu:home")]))
    lines = [tr("lists.title")]
    for n, item in enumerate(lists, 1):
        lines.append(tr("lists.line", n=n, name=item.name, count=item.size,
                        opted_out=tr.number(item.opted_out)))
    lines.append(tr("lists.hint"))
    rows = [[(f"📋 {item.name}", f"lst:open:{item.id}")] for item in lists[:MAX_LIST_BUTTONS]]
    rows.append([(tr("menu.back"), "menu:home")])
    return Screen("\n".join(lines), keyboard(*rows))


def list_card(tr: Translator, item: ContactList) -> Screen:
    text = tr("lists.card", name=item.name, count=item.size,
              opted_out=tr.number(item.opted_out))
    return Screen(text, keyboard(
        [(tr("lists.sample"), f"lst:sample:{item.id}"),
         (tr("lists.rename"), f"lst:rename:{item.id}")],
        [(tr("lists.export_csv"), f"lst:csv:{item.id}"),
         (tr("lists.export_xlsx"), f"lst:xlsx:{item.id}")],
        [(tr("lists.delete"), f"lst:del:{item.id}")],
        [(tr("lists.all"), "lst:all:0")],
    ))


def list_sample(tr: Translator, item: ContactList, contacts: list[Contact]) -> Screen:
    lines = [tr("lists.sample_title", name=item.name, shown=len(contacts),
                count=item.size)]
    for contact in contacts:
        extra = ", ".join(f"{k}: {v}" for k, v in contact.attributes.items())
        line = f"• {contact.phone} — {contact.name or '—'}" + (f" ({extra})" if extra else "")
        if contact.opted_out_at:
            line += " " + tr("lists.opted_out_mark")
        lines.append(line)
    return Screen("\n".join(_escape(line) if i else line for i, line in enumerate(lines)),
                  keyboard([(tr("lists.back_to_list"), f"lst:open:{item.id}")]))


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def rename_prompt(tr: Translator, item: ContactList) -> Screen:
    return Screen(tr("lists.rename_prompt", name=item.name),
                  keyboard([(tr("common.cancel"), f"lst:open:{item.id}")]))


def delete_confirm(tr: Translator, item: ContactList, going: int) -> Screen:
    return Screen(
        tr("lists.delete_confirm", name=item.name, count=going),
        keyboard([(tr("lists.delete_yes"), f"lst:delok:{item.id}")],
            [(tr("common.cancel"), f"lst:open:{item.id}")]),
    )


def list_deleted(tr: Translator, name: str, removed: int) -> Screen:
    return Screen(tr("lists.deleted", name=name, count=removed),
                  keyboard([(tr("lists.all"), "lst:all:0")]))


# --- imports ----------------------------------------------------------------------------

def import_target(tr: Translator, record: ImportRecord, lists: list[ContactList]) -> Screen:
    from pathlib import Path

    stem = Path(record.file_name).stem
    rows = [[(tr("import.new_list", name=stem), f"imp:new:{record.id}")]]
    rows += [[(f"📋 {item.name}", f"imp:to:{record.id}:{item.id}")]
             for item in lists[:MAX_LIST_BUTTONS]]
    rows.append([(tr("common.cancel"), f"imp:cancel:{record.id}")])
    return Screen(tr("import.which_list", file=record.file_name), keyboard(*rows))


def import_progress(tr: Translator, file_name: str, progress: Progress | None) -> Screen:
    if progress is None:
        return Screen(tr("import.started", file=file_name))
    return Screen(tr("import.progress", file=file_name, count=progress.rows_read,
                     valid=tr.number(progress.valid)))


def import_report(tr: Translator, file_name: str, report: ImportReport) -> Screen:
    lines = [tr("import.done", file=file_name, list=report.list_name),
             tr("import.counts", imported=tr.number(report.imported),
                updated=tr.number(report.updated), duplicates=tr.number(report.duplicates),
                invalid=tr.number(report.invalid))]
    if report.renamed:  # the newer name won: say whose
        lines.append(tr("import.renamed", count=report.renamed))
        lines += [tr("import.renamed_line", phone=phone, old=old, new=new)
                  for phone, old, new in report.renamed_examples]
        if report.renamed > len(report.renamed_examples):
            lines.append(tr("import.renamed_more",
                            count=report.renamed - len(report.renamed_examples)))
    if report.opted_out:
        lines.append(tr("import.opted_out", count=report.opted_out))
    for reason, count in sorted((report.skipped or {}).items()):
        lines.append(tr("import.skipped", count=count,
                        what=tr(f"import.reason.{reason}")))
    extra = [c for c in report.columns if c not in ("phone", "name")]
    if extra:
        lines.append(tr("import.variables", variables=", ".join("{{" + c + "}}" for c in extra)))
    if report.invalid:
        lines.append(tr("import.rejected_file"))
    return Screen("\n".join(lines), keyboard([(tr("lists.open"), f"lst:open:{report.list_id}")],
                                         [(tr("lists.all"), "lst:all:0")]))
