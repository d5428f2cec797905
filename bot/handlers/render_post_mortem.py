"""The ban post-mortem as the owner reads it: sent after a number is lost, and again from
its /numbers card (``bot/services/post_mortem.py`` makes it)."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.post_mortem import PostMortem

WARNINGS_SHOWN = 8
# The health guard's warning kinds (sender_warnings.kind) said in words
# (``postmortem.warning.<kind>``; another kind is shown as it is stored).
WARNING_KINDS = ("capping_first_warning", "capping_second_warning", "capped",
                 "capping_cleared", "timelock", "quality_yellow", "quality_red",
                 "quality_green", "tier_changed", "slowed", "eased", "restricted", "banned")
FAILURES_SHOWN = 4


def _seconds(tr: Translator, value: float | None) -> str:
    return tr.number(round(value, 1)) if value is not None else "—"


def _warning(tr: Translator, kind: str) -> str:
    return tr(f"postmortem.warning.{kind}") if kind in WARNING_KINDS else kind


def post_mortem_text(tr: Translator, label: str, report: PostMortem, zone: str) -> str:
    at = datetime.fromtimestamp(report.at, UTC)
    lines = [tr(f"postmortem.title_{report.state}", number=html.escape(label),
                at=tr.datetime(at, zone)),
             tr("postmortem.window", hours=report.hours)]
    lines.append(tr("postmortem.sent", count=report.sent, people=tr.number(report.recipients),
                    new=tr.number(report.new_chats)))
    if report.sent > 1:
        lines.append(tr("postmortem.pace", median=_seconds(tr, report.gap_median),
                        shortest=_seconds(tr, report.gap_min),
                        peak=tr.number(report.peak_hour)))
    if report.failed:
        reasons = ", ".join(f"{tr(f'stats.reason.{code}')} {tr.number(n)}"
                            for code, n in report.failures[:FAILURES_SHOWN])
        lines.append(tr("postmortem.failed", count=report.failed, reasons=reasons))
    else:
        lines.append(tr("postmortem.no_failures"))
    if report.not_on_whatsapp:
        lines.append(tr("postmortem.not_on_whatsapp", count=report.not_on_whatsapp))
    lines.append(tr("postmortem.replies", count=report.replies,
                    people=tr.number(report.repliers), opt_outs=tr.number(report.opt_outs)))
    if report.warmup_day is not None:
        lines.append(tr("postmortem.warmup_day", day=report.warmup_day))
    else:
        lines.append(tr("postmortem.warmed_up", count=report.age_days))
    if report.warnings:
        seen = "; ".join(
            f"{tr.datetime(datetime.fromtimestamp(w_at, UTC), zone)} {_warning(tr, kind)}"
            for w_at, kind in report.warnings[-WARNINGS_SHOWN:])
        lines.append(tr("postmortem.warnings", list=seen))
    else:
        lines.append(tr("postmortem.no_warnings"))
    lines.append("")
    lines.append(tr("postmortem.safe_title"))
    if report.differences:
        lines += [tr(f"postmortem.diff.{d.code}", **dict(d.params)) for d in report.differences]
    else:
        lines.append(tr("postmortem.diff_none"))
    return "\n".join(lines)


def post_mortem_screen(tr: Translator, label: str, report: PostMortem, zone: str,
                       sender_id: int) -> Screen:
    return Screen(post_mortem_text(tr, label, report, zone), keyboard(
        [(tr("numbers.all"), "num:all")], [(tr("postmortem.card"), f"num:open:{sender_id}")]))


def no_post_mortem(tr: Translator) -> Screen:
    return Screen(tr("postmortem.none"), keyboard([(tr("numbers.all"), "num:all")]))
