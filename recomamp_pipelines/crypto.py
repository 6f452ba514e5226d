"""Encryption at rest of users' Amazon tokens (Fernet: AES-128-CBC with HMAC-SHA256).

Keys come from RECOMAMP_ENCRYPTION_KEYS, newest first: the first key encrypts, every key
decrypts, so a rotation adds a new key in front and keeps the old ones until every token has
been re-encrypted (`TokenCipher.rotate`). With the embedded database and no key configured, a
key is generated once and kept in the settings file beside the embedded data.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from filelock import FileLock

from recomamp_pipelines.settings import (
    RECOMAMP_ENCRYPTION_KEYS,
    Settings,
    read_settings_file,
    write_settings_file,
)


class EncryptionKeyError(ValueError):
    """The configured keys are missing, malformed, or do not open a stored token."""


class TokenCipher:
    """Encrypts and decrypts tokens; never shows them in a repr or an error."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise EncryptionKeyError(
                f"{RECOMAMP_ENCRYPTION_KEYS} is not set: it must list one or more Fernet keys, "
                "newest first, separated by commas"
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError) as exc:
                raise EncryptionKeyError(
                    f"{RECOMAMP_ENCRYPTION_KEYS}: key {position} of {len(keys)} is not a valid "
                    "Fernet key (expected 32 url-safe base64-encoded bytes)"
                ) from exc
        self._fernet = MultiFernet(fernets)
        self._newest = fernets[0]
        self.key_count = len(keys)

    def __repr__(self) -> str:
        return f"TokenCipher(keys={self.key_count})"

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCipher:
        keys = settings.encryption_keys
        if not keys and settings.uses_embedded_database:
            keys = [ensure_local_key(settings)]
        return cls(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str, *, what: str = "token") -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise EncryptionKeyError(
                f"cannot decrypt the stored {what} with any of the {self.key_count} key(s) in "
                f"{RECOMAMP_ENCRYPTION_KEYS}: wrong key, or the key it was encrypted with was "
                "removed; the stored value was left unchanged"
            ) from exc

    def is_current(self, ciphertext: str) -> bool:
        """Whether the newest key opens the token (it needs no rotation)."""
        try:
            self._newest.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the newest key (the token must open with one of the keys)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise EncryptionKeyError(
                f"cannot re-encrypt a stored token: no key in {RECOMAMP_ENCRYPTION_KEYS} opens it"
            ) from exc


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def ensure_local_key(settings: Settings) -> str:
    """The generated key of the embedded setup, created on first use in the settings file."""
    settings.home.mkdir(parents=True, exist_ok=True)
    # Two commands starting at once must not each write a different key.
    with FileLock(str(settings.settings_file) + ".lock"):
        existing = read_settings_file(settings.settings_file).get(RECOMAMP_ENCRYPTION_KEYS)
        if existing:
            return existing.split(",")[0].strip()
        key = generate_key()
        write_settings_file(settings.settings_file, {RECOMAMP_ENCRYPTION_KEYS: key})
        return key
