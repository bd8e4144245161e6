from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from worker.config import ConfigError, Settings
from worker.crypto import keyring, new_key_spec, parse_keys


def test_round_trip_with_random_nonce_and_key_id():
    ring = parse_keys(new_key_spec("k2") + "," + new_key_spec("k1"))
    blob1, kid = ring.encrypt("Atzr|secret", aad="A1SELLER")
    blob2, _ = ring.encrypt("Atzr|secret", aad="A1SELLER")
    assert kid == "k2" and blob1 != blob2  # fresh 96-bit nonce each time
    assert b"Atzr" not in blob1
    assert ring.decrypt(blob1, kid, "A1SELLER") == "Atzr|secret"


def test_ciphertext_is_bound_to_its_seller():
    ring = parse_keys(new_key_spec())
    blob, kid = ring.encrypt("Atzr|secret", aad="A1SELLER")
    with pytest.raises(InvalidTag):
        ring.decrypt(blob, kid, "A2OTHER")


def test_old_keys_still_decrypt_after_rotation():
    old = new_key_spec("old")
    blob, kid = parse_keys(old).encrypt("Atzr|x", aad="S")
    rotated = parse_keys(new_key_spec("new") + "," + old)
    assert rotated.primary == "new" and rotated.decrypt(blob, kid, "S") == "Atzr|x"


@pytest.mark.parametrize("spec", ["", "nokey", "k1:!!!", "k1:c2hvcnQ="])
def test_bad_key_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        parse_keys(spec)


def test_keys_required_with_a_real_database(tmp_path):
    with pytest.raises(ConfigError, match="SPSYNC_TOKEN_KEYS"):
        keyring(Settings(database_url="postgresql://h/db", token_keys=None, data_dir=str(tmp_path)))


def test_embedded_mode_creates_a_private_local_key(tmp_path):
    s = Settings(database_url=None, token_keys=None, data_dir=str(tmp_path))
    ring = keyring(s)
    assert (tmp_path / "token.key").stat().st_mode & 0o777 == 0o600
    assert keyring(s).keys == ring.keys  # stable across calls
