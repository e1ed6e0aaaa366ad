"""TALLY_SECRET_KEY encryption: round trips, and plain sentences when the key is missing, malformed or changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from sync.crypto import SecretKeyError, TokenCipher, UndecryptableError
from sync.models import utcnow


def test_round_trip_hides_the_plaintext() -> None:
    cipher = TokenCipher(SecretStr(Fernet.generate_key().decode()))
    sealed = cipher.encrypt("AB11-refresh-token-value")
    assert "AB11-refresh-token-value" not in sealed
    assert sealed.isascii()
    assert cipher.decrypt(sealed) == "AB11-refresh-token-value"
    assert cipher.encrypt("same") != cipher.encrypt("same")  # fresh IV each time


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_says_how_to_make_one(key: str | None) -> None:
    with pytest.raises(SecretKeyError, match="TALLY_SECRET_KEY is not set") as missing:
        TokenCipher(key)
    assert "Fernet.generate_key()" in missing.value.sentence


def test_a_malformed_key_is_refused_without_quoting_it() -> None:
    with pytest.raises(SecretKeyError) as bad:
        TokenCipher(SecretStr("hunter2-is-not-a-fernet-key"))
    assert bad.value.sentence.startswith("TALLY_SECRET_KEY must be a Fernet key")
    assert "generate one with python -c" in bad.value.sentence
    assert "hunter2" not in str(bad.value)


def test_a_changed_key_is_reported_not_garbled() -> None:
    sealed = TokenCipher(Fernet.generate_key().decode()).encrypt("secret")
    with pytest.raises(UndecryptableError, match="key was changed"):
        TokenCipher(Fernet.generate_key().decode()).decrypt(sealed)
    with pytest.raises(UndecryptableError):
        TokenCipher(Fernet.generate_key().decode()).decrypt("not even base64 ✓")


def test_sealed_values_expire() -> None:
    cipher = TokenCipher(Fernet.generate_key().decode())
    now = utcnow()
    sealed = cipher.seal("state", at=now)
    assert cipher.open(sealed, at=now + timedelta(minutes=59), max_age_seconds=3600) == "state"
    assert cipher.open(sealed, at=now + timedelta(minutes=61), max_age_seconds=3600) is None
    assert cipher.open("forged", at=now, max_age_seconds=3600) is None
