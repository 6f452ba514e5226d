from __future__ import annotations

from pathlib import Path

import pytest

from recomamp_pipelines.crypto import EncryptionKeyError, TokenCipher, generate_key
from recomamp_pipelines.settings import load_settings, read_settings_file

TOKEN = "Atzr|IwEBIsecret-refresh-token"


def test_round_trip_and_ciphertext_hides_token() -> None:
    cipher = TokenCipher([generate_key()])
    stored = cipher.encrypt(TOKEN)
    assert TOKEN not in stored
    assert cipher.decrypt(stored) == TOKEN
    assert "secret" not in repr(cipher)


def test_rotation_old_keys_still_decrypt_and_new_key_encrypts() -> None:
    old, new = generate_key(), generate_key()
    stored_with_old = TokenCipher([old]).encrypt(TOKEN)
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored_with_old) == TOKEN
    re_encrypted = rotated.rotate(stored_with_old)
    assert TokenCipher([new]).decrypt(re_encrypted) == TOKEN
    with pytest.raises(EncryptionKeyError):
        TokenCipher([old]).decrypt(re_encrypted)


def test_wrong_key_is_a_clear_error_without_the_token() -> None:
    stored = TokenCipher([generate_key()]).encrypt(TOKEN)
    with pytest.raises(EncryptionKeyError, match="wrong key") as caught:
        TokenCipher([generate_key()]).decrypt(stored, what="refresh token of a@b.co")
    assert TOKEN not in str(caught.value)
    assert "refresh token of a@b.co" in str(caught.value)


def test_malformed_key_names_its_position() -> None:
    with pytest.raises(EncryptionKeyError, match="key 2 of 2 is not a valid Fernet key"):
        TokenCipher([generate_key(), "not-a-key"])


def test_missing_keys_with_external_database_is_an_error(tmp_path: Path) -> None:
    settings = load_settings(
        {"RECOMAMP_HOME": str(tmp_path), "DATABASE_URL": "postgresql://db.example/x"}
    )
    with pytest.raises(EncryptionKeyError, match="RECOMAMP_ENCRYPTION_KEYS is not set"):
        TokenCipher.from_settings(settings)


def test_embedded_setup_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    settings = load_settings({"RECOMAMP_HOME": str(tmp_path)})
    stored = TokenCipher.from_settings(settings).encrypt(TOKEN)
    saved = read_settings_file(tmp_path / "settings.env")["RECOMAMP_ENCRYPTION_KEYS"]
    reloaded = load_settings({"RECOMAMP_HOME": str(tmp_path)})
    assert reloaded.encryption_keys == [saved]
    assert TokenCipher.from_settings(reloaded).decrypt(stored) == TOKEN
