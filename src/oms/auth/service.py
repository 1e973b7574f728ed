"""Users and tokens: create, verify, authenticate."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oms.auth.model import ApiToken, User
from oms.auth.rules import Role, scopes_for_token
from oms.db.base import utcnow
from oms.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from oms.schemas import normalise_email

_hasher = PasswordHasher()
# Verifying against this keeps unknown-email logins as slow as wrong-password ones.
_DUMMY_HASH = _hasher.hash("not a real password")

TOKEN_PREFIX = "oms_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a token and the scopes the token carries."""

    user_id: int
    email: str
    role: str
    scopes: frozenset[str]
    token_id: int | None = None
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        return self.email


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_token(secret_key: str, token: str) -> str:
    # Tokens are 256 random bits, so a keyed SHA-256 is enough (a slow hash would cost every request).
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def create_user(session: Session, email: str, role: str, password: str | None, name: str | None = None) -> User:
    try:
        role_enum = Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}", code="unknown_role"
        ) from None
    try:
        email = normalise_email(email.strip())
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_email") from None
    if password is not None and len(password) < 8:
        raise InvalidInput("passwords need at least 8 characters", code="weak_password")
    user = User(
        email=email,
        name=name,
        role=role_enum.value,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExists(f"a user with email {email!r} already exists") from None
    return user


def find_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email!r}")
    return user


def create_token(
    session: Session,
    secret_key: str,
    user: User,
    scopes: list[str] | None = None,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiToken]:
    """Returns the token (shown once, never stored) and its row."""
    try:
        granted = scopes_for_token(Role(user.role), scopes)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_scope") from None
    secret = secrets.token_urlsafe(32)
    token = f"{TOKEN_PREFIX}{secret}"
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:8],
        token_hash=hash_token(secret_key, token),
        scopes=granted,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return token, row


def authenticate_token(session: Session, secret_key: str, token: str) -> Principal:
    token_hash = hash_token(secret_key, token)
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.scopes,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            User.id,
            User.email,
            User.role,
            User.is_active,
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    if row is None:
        raise Unauthenticated("the bearer token is not valid")
    token_id, scopes, expires_at, revoked_at, user_id, email, role, active = row
    if revoked_at is not None or not active:
        raise Unauthenticated("the bearer token has been revoked")
    if expires_at is not None and expires_at <= utcnow():
        raise Unauthenticated("the bearer token has expired")
    return Principal(
        user_id=user_id, email=email, role=role, scopes=frozenset(scopes), token_id=token_id, expires_at=expires_at
    )


class TokenCache:
    """Remembers recently verified tokens for a few seconds, so a busy client does not pay a
    database round trip per request. The price: revoking a token (or a user) takes effect in
    every process within ``ttl_s``. Keyed by the token's hash; bounded in size."""

    def __init__(self, ttl_s: float = 10.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal, datetime | None]] = {}

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        until, principal, expires_at = entry
        if time.monotonic() > until or (expires_at is not None and expires_at <= utcnow()):
            self._entries.pop(token_hash, None)
            return None
        return principal

    def put(self, token_hash: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token_hash] = (time.monotonic() + self.ttl_s, principal, principal.expires_at)


def login(session: Session, secret_key: str, email: str, password: str, ttl_hours: int = 12) -> tuple[str, ApiToken]:
    """Exchange email and password for a bearer token that expires."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        if user is None or not user.password_hash or not user.is_active:
            _hasher.verify(_DUMMY_HASH, password + "x")
            raise VerificationError
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("email or password is wrong") from None
    return create_token(session, secret_key, user, name="login", expires_at=utcnow() + timedelta(hours=ttl_hours))
