"""Rendering for the webhooks screens (under /api, and /webhooks). Pure.

Buttons (``wh:``): ``wh:all`` the endpoints; ``wh:new`` asks a new endpoint's URL;
``wh:cancel`` drops that question; ``wh:open:<id>`` an endpoint's card (its last
deliveries); ``wh:ev:<id>`` its events, ``wh:tg:<id>:<n>`` toggles the n-th event type,
``wh:any:<id>`` subscribes it to all; ``wh:test:<id>`` sends a test event;
``wh:off:<id>`` / ``wh:on:<id>`` pause and resume it; ``wh:rm:<id>`` asks to delete it,
``wh:rmok:<id>`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.webhooks import (
    ALL_EVENTS,
    CreatedEndpoint,
    Delivery,
    Endpoint,
    EndpointState,
    EndpointView,
    EventType,
    Outcome,
    TestResult,
)

EVENT_TYPES = tuple(EventType)  # a toggle's number is the type's place here
_STATE_ICONS = {EndpointState.ACTIVE: "🟢", EndpointState.FAILING: "🔴",
                EndpointState.DISABLED: "⏸"}
_OUTCOME_ICONS = {Outcome.DELIVERED: "✅", Outcome.FAILED: "❌", Outcome.DROPPED: "🗑"}
SHOWN_DELIVERIES = 5


def host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def events_text(tr: Translator, endpoint: Endpoint) -> str:
    if ALL_EVENTS in endpoint.events:
        return tr("webhooks.events_all")
    return ", ".join(t.value for t in EVENT_TYPES if t.value in endpoint.events) or "—"


def state_text(tr: Translator, endpoint: Endpoint, zone: str) -> str:
    if endpoint.state is EndpointState.FAILING and endpoint.failing_since is not None:
        return tr("webhooks.state_failing_since",
                  since=tr.datetime(endpoint.failing_since, zone))
    return tr(f"webhooks.state_{endpoint.state.value}")


def delivery_line(tr: Translator, delivery: Delivery, zone: str) -> str:
    if delivery.outcome is Outcome.DROPPED:
        result = tr("webhooks.dropped")
    elif delivery.status_code is not None:
        result = str(delivery.status_code)
    else:
        result = delivery.error or "—"
    return tr("webhooks.delivery_line", icon=_OUTCOME_ICONS[delivery.outcome], result=result,
              event=delivery.event_type, at=tr.datetime(delivery.attempted_at, zone))


def endpoints_screen(tr: Translator, views: Sequence[EndpointView], zone: str,
                     note: str | None = None) -> Screen:
    """The owner's endpoints, each with its state and last delivery."""
    lines = [note, ""] if note else []
    lines.append(tr("webhooks.title"))
    if not views:
        lines.append(tr("webhooks.none"))
    for view in views:
        endpoint = view.endpoint
        last = (delivery_line(tr, view.last, zone) if view.last is not None
                else tr("webhooks.no_deliveries"))
        lines.append(tr("webhooks.line", icon=_STATE_ICONS[endpoint.state], url=endpoint.url,
                        state=state_text(tr, endpoint, zone),
                        events=events_text(tr, endpoint), last=last))
    rows = [[(f"{_STATE_ICONS[v.endpoint.state]} {host(v.endpoint.url)}",
              f"wh:open:{v.endpoint.id}")] for v in views]
    rows.append([(tr("webhooks.add"), "wh:new")])
    rows.append([(tr("api.all"), "api:all"), (tr("menu.back"), "menu:home")])
    return Screen("\n\n".join(lines), keyboard(*rows))


def url_question(tr: Translator) -> Screen:
    return Screen(tr("webhooks.ask_url"), keyboard([(tr("common.cancel"), "wh:cancel")]))


def created(tr: Translator, made: CreatedEndpoint) -> Screen:
    """The new endpoint's signing secret, this once (its own message, no buttons: the
    events screen after it is edited, this one stays as it is)."""
    return Screen(tr("webhooks.created", url=made.endpoint.url, secret=made.secret))


def events_question(tr: Translator, endpoint: Endpoint) -> Screen:
    """The endpoint's event types as toggles, two a row, and *All events*."""
    every = ALL_EVENTS in endpoint.events
    toggles = [(("✅ " if every or t.value in endpoint.events else "⬜ ") + t.value,
                f"wh:tg:{endpoint.id}:{n}") for n, t in enumerate(EVENT_TYPES)]
    rows = [toggles[i:i + 2] for i in range(0, len(toggles), 2)]
    rows.append([(("✅ " if every else "⬜ ") + tr("webhooks.events_all"),
                  f"wh:any:{endpoint.id}")])
    rows.append([(tr("webhooks.done"), f"wh:open:{endpoint.id}")])
    return Screen(tr("webhooks.ask_events", url=endpoint.url,
                     events=events_text(tr, endpoint)), keyboard(*rows))


def endpoint_card(tr: Translator, endpoint: Endpoint, deliveries: Sequence[Delivery],
                  zone: str, note: str | None = None) -> Screen:
    """One endpoint: its URL, state, events, failures in a row and last deliveries."""
    lines = [note, ""] if note else []
    lines.append(tr("webhooks.card", url=endpoint.url, state=state_text(tr, endpoint, zone),
                    events=events_text(tr, endpoint)))
    if endpoint.failures:
        lines.append(tr("webhooks.failures", count=endpoint.failures,
                        error=endpoint.last_error or "—"))
    if deliveries:
        lines.append(tr("webhooks.last_deliveries") + "\n" + "\n".join(
            delivery_line(tr, d, zone) for d in deliveries[:SHOWN_DELIVERIES]))
    else:
        lines.append(tr("webhooks.no_deliveries"))
    pause = ((tr("webhooks.resume"), f"wh:on:{endpoint.id}")
             if endpoint.state is EndpointState.DISABLED
             else (tr("webhooks.pause"), f"wh:off:{endpoint.id}"))
    return Screen("\n\n".join(lines), keyboard(
        [(tr("webhooks.test"), f"wh:test:{endpoint.id}")],
        [(tr("webhooks.events"), f"wh:ev:{endpoint.id}"), pause],
        [(tr("webhooks.delete"), f"wh:rm:{endpoint.id}")],
        [(tr("webhooks.all"), "wh:all")]))


def test_note(tr: Translator, result: TestResult) -> str:
    if result.ok:
        return tr("webhooks.test_ok", status=str(result.status_code), ms=result.duration_ms)
    return tr("webhooks.test_failed", reason=result.error or "—")


def delete_question(tr: Translator, endpoint: Endpoint) -> Screen:
    return Screen(tr("webhooks.delete_confirm", url=endpoint.url),
                  keyboard([(tr("webhooks.delete_yes"), f"wh:rmok:{endpoint.id}")],
                           [(tr("common.cancel"), f"wh:open:{endpoint.id}")]))


def failing_alert(tr: Translator, url: str, dropped: int) -> Screen:
    """The owner's notice: an endpoint's events were dropped after 24 hours."""
    return Screen(tr("webhooks.failing_alert", url=url, count=dropped),
                  keyboard([(tr("webhooks.all"), "wh:all")]))
