"""Public ids (7 random base62 characters, like Imgur) and delete tokens."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

PUBLIC_ID_ALPHABET = string.digits + string.ascii_letters
PUBLIC_ID_LENGTH = 7
_PUBLIC_ID = re.compile(rf"^[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}}$")


def new_public_id() -> str:
    """7 base62 characters from one read of the OS's random source (~41.7 bits)."""
    return _public_id(secrets.token_bytes(8))


def derived_public_id(secret: bytes, name: str) -> str:
    """A public id fixed by ``name`` and unguessable without ``secret`` (HMAC-SHA256):
    a retried operation names the same image as the attempt before it."""
    return _public_id(hmac.new(secret, name.encode(), hashlib.sha256).digest()[:8])


def _public_id(random_bytes: bytes) -> str:
    number = int.from_bytes(random_bytes)
    chars = []
    for _ in range(PUBLIC_ID_LENGTH):
        number, index = divmod(number, len(PUBLIC_ID_ALPHABET))
        chars.append(PUBLIC_ID_ALPHABET[index])
    return "".join(chars)


def is_public_id(value: str) -> bool:
    return bool(_PUBLIC_ID.match(value))


def new_delete_token() -> str:
    """A high-entropy secret shown once to the uploader."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """Tokens carry 192 random bits, so a plain SHA-256 is enough (no slow KDF needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)
