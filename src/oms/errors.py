"""Errors with meaning. Each carries a snake_case code and a human detail; HTTP status codes are
assigned in exactly one place, ``oms.web.errors``. Rules and services raise these."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """``code`` names the error for clients; a raise site may give a more precise one
    (``InvalidInput("...", code="unknown_sku")``). ``extra`` fields join the JSON body."""

    code = "domain_error"

    def __init__(self, detail: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        if code:
            self.code = code


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class InvalidInput(DomainError):
    """Well-formed request whose content cannot be accepted (unknown SKU, totals that don't add up)."""

    code = "invalid_input"


class InsufficientStock(DomainError):
    code = "insufficient_stock"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Conflict(DomainError):
    """The request is valid but conflicts with the current state (overpayment, key in use...)."""

    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class RateLimited(DomainError):
    code = "too_many_requests"


class OutcomeUnknown(DomainError):
    """The database connection was lost after a write was sent: it may or may not have happened,
    so it must not be run again blindly (the client can look it up, or retry with an
    Idempotency-Key)."""

    code = "outcome_unknown"
