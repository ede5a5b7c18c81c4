"""Passwords (argon2), random tokens and signed cookies (failed-login throttling: _throttle.py)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, TimestampSigner

_HASHER = PasswordHasher()
# Verified against when the user name is unknown, so both cases cost the same time.
_DUMMY_HASH = _HASHER.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class CookieSigner:
    """Signs cookie values with the server secret (itsdangerous) and checks their age."""

    def __init__(self, secret: str, salt: str, max_age_s: int):
        self._signer = TimestampSigner(secret, salt=salt)
        self.max_age_s = max_age_s

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode()

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed, max_age=self.max_age_s).decode()
        except (BadSignature, UnicodeDecodeError):
            return None


def patient_key(secret: str, patient_id: str | None) -> str | None:
    """A salted (HMAC) hash of a DICOM patient ID, to group a woman's images without storing the ID."""
    if not patient_id:
        return None
    return hmac.new(f"patient:{secret}".encode(), patient_id.encode(), hashlib.sha256).hexdigest()
