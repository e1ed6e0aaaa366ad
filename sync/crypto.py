"""Encryption of secrets Tally stores (the QuickBooks OAuth tokens) with ``TALLY_SECRET_KEY``.

Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) from ``cryptography``: a tampered or foreign
ciphertext is refused rather than decrypted to garbage. Errors carry a ``sentence`` for the person who has to fix them::

    CipherError                 ``sentence`` says what to do
    ├── SecretKeyError          TALLY_SECRET_KEY is missing or is not a Fernet key
    └── UndecryptableError      a stored value was encrypted with another key (the key was changed)
"""

from __future__ import annotations

from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

GENERATE_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class CipherError(Exception):
    """Encrypting or decrypting a stored secret failed; ``sentence`` says what to do."""

    def __init__(self, sentence: str) -> None:
        self.sentence = sentence
        super().__init__(sentence)


class SecretKeyError(CipherError):
    """TALLY_SECRET_KEY is missing or malformed."""


class UndecryptableError(CipherError):
    """A stored value cannot be decrypted with the current TALLY_SECRET_KEY."""


class TokenCipher:
    """Encrypt and decrypt short secrets (tokens) as URL-safe text."""

    def __init__(self, key: SecretStr | str | None) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        if not raw or not raw.strip():
            raise SecretKeyError(
                f"TALLY_SECRET_KEY is not set: Tally encrypts the QuickBooks tokens it stores with it. "
                f"Generate one with {GENERATE_HINT} and keep it with your other secrets."
            )
        try:
            self._fernet = Fernet(raw.strip().encode())
        except ValueError as exc:
            # Never quote the value: it may be a real secret pasted into the wrong variable.
            raise SecretKeyError(
                f"TALLY_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes): "
                f"generate one with {GENERATE_HINT}"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext``; the result is ASCII and safe to store in a text column."""
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Decrypt a value made by ``encrypt`` with the same key."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise UndecryptableError(
                "A stored secret cannot be decrypted with the current TALLY_SECRET_KEY: the key was changed "
                "since it was saved. Put the previous key back, or reconnect so the secret is saved again "
                "with the new key."
            ) from exc

    def seal(self, plaintext: str, *, at: datetime) -> str:
        """Encrypt ``plaintext`` stamped with the time ``at`` (for values that expire, like OAuth states)."""
        return self._fernet.encrypt_at_time(plaintext.encode(), int(at.timestamp())).decode("ascii")

    def open(self, ciphertext: str, *, at: datetime, max_age_seconds: int) -> str | None:
        """Decrypt a value made by ``seal`` no more than ``max_age_seconds`` before ``at``; else None."""
        try:
            value = self._fernet.decrypt_at_time(ciphertext.encode("ascii"), max_age_seconds, int(at.timestamp()))
        except (InvalidToken, UnicodeEncodeError):
            return None
        return value.decode()
