"""Errors the services raise, carrying what the user must know.

Handlers turn them into friendly, translated text; nothing here is a sentence for the
user. ``code`` is a catalog key suffix, ``where`` says where the problem is.

    QasidError
    ├── ValidationError      bad input: which field/row, and the reason code
    ├── NotFound             the thing does not exist *for this owner*
    ├── NotAllowed           the caller may not do this (not an admin, not active, ...)
    └── InvalidTransition    a status change that the entity refuses
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
