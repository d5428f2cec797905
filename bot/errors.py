"""Errors the services raise, carrying what the user must know.

Handlers turn them into friendly, translated text; nothing here is a sentence for the
user. ``code`` is a catalog key suffix, ``where`` says where the problem is.

    QasidError
    ├── ValidationError      bad input: which field/row, and the reason code
    ├── NotFound             the thing does not exist *for this owner*
    ├── NotAllowed           the caller may not do this (not an admin, not active, ...)
    ├── InvalidTransition    a status change that the entity refuses
    ├── Conflict             the request collides with the state of things (the same
    │   │                    Idempotency-Key still at work, a name already taken, ...)
    │   ├── IdempotencyMismatch  an Idempotency-Key used again with another request
    │   └── OrderDecided     an order was already confirmed or rejected (by another admin)
    ├── InsufficientCredits  not enough credits available: ``needed`` and ``available``
    ├── GatewayFailed        the WhatsApp gateway did not do it (unreachable, refused):
    │                        ``reason`` is its error category, nothing was changed
    └── Interrupted          the bot is stopping: the work was rolled back, nothing written

    StorageUnavailable       the database cannot save just now (disk full, locked by another
                             process): raised by ``bot.storage.db`` for a transaction it
                             rolled back, so nothing of it was written. Not a ``QasidError``:
                             it says nothing about the user's input, and it goes past the
                             handlers to the one global error handler (and the dispatcher
                             and the webhooks), which log one line and tell the user.
"""

from __future__ import annotations


class QasidError(Exception):
    code = "error"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        self.params = params


class ValidationError(QasidError):
    code = "validation"

    def __init__(self, reason: str, where: str = "", **params: object) -> None:
        super().__init__(f"{where}: {reason}" if where else reason, **params)
        self.reason = reason
        self.where = where


class NotFound(QasidError):
    code = "not_found"


class NotAllowed(QasidError):
    code = "not_allowed"

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason, **params)
        self.reason = reason


class InvalidTransition(QasidError):
    code = "invalid_transition"

    def __init__(self, entity: str, current: str, wanted: str) -> None:
        super().__init__(f"{entity}: {current} -> {wanted}")
        self.entity = entity
        self.current = current
        self.wanted = wanted


class Conflict(QasidError):
    """The request collides with the state of things: ``reason`` says how (a code)."""

    code = "conflict"

    def __init__(self, reason: str, **params: object) -> None:
        super().__init__(reason, **params)
        self.reason = reason


class IdempotencyMismatch(Conflict):
    """An ``Idempotency-Key`` already used, within its day, for another request (another
    method, path or body): the first request's answer stands, this one is not done."""

    code = "idempotency_mismatch"

    def __init__(self) -> None:
        super().__init__("idempotency_mismatch")


class OrderDecided(Conflict):
    """An order no longer waits for an admin: ``status`` is where it is (``paid``,
    ``rejected``, ``expired``, ``cancelled``...), ``decided_by`` the Telegram id of the
    admin who decided it (None when nobody did); nothing was changed."""

    code = "order_decided"

    def __init__(self, reference: str, status: str, decided_by: int | None) -> None:
        super().__init__("order_decided", reference=reference, status=status)
        self.reference = reference
        self.status = status
        self.decided_by = decided_by


class InsufficientCredits(QasidError):
    """Not enough credits available for what was asked: ``needed`` credits, of which the
    owner has ``available``; nothing was queued."""

    code = "insufficient_credits"

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"needed {needed}, available {available}", needed=needed,
                         available=available)
        self.needed = needed
        self.available = available


class GatewayFailed(QasidError):
    """The WhatsApp gateway did not do what was asked (it did not answer, timed out or
    refused): ``reason`` is its error category (``transient``, ``uncertain``,
    ``rejected``, ``sender_banned``, ...: ``bot.gateways.base.ErrorCategory``), which the
    handler renders; ``detail`` is the gateway's own words, for the log only. Services
    raise it from the ``GatewayError`` they caught; handlers never see a gateway error."""

    code = "gateway"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class Interrupted(QasidError):
    """The bot is stopping (SIGTERM, Ctrl+C) while the work ran: it was rolled back, so
    nothing of it was written; the user is told to try again."""

    code = "interrupted"
    reason = "interrupted"


class StorageUnavailable(Exception):
    """The database refused a write: ``reason`` is ``disk_full``, ``locked`` (another
    process held it past the busy timeout) or ``io_error``; ``detail`` is SQLite's message.
    The transaction was rolled back: nothing of it was written, and trying again later
    may succeed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
