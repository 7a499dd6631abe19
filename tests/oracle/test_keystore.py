"""Encrypted V3 keystores: create, import (key and file), list, unlock, and every refusal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from oracle.chain.keystore import Keystore, KeystoreError, default_keystore_dir, parse_private_key

N = 2**10  # low scrypt cost: still a standard encrypted keystore
KEY = "0x" + "42" * 32


def test_create_unlock_and_file_is_a_private_v3_keystore(tmp_path: Path) -> None:
    ks = Keystore(tmp_path / "ks", scrypt_n=N)
    entry = ks.create("alice", "pw")
    document = json.loads(entry.path.read_text())
    assert document["version"] == 3 and document["crypto"]["kdf"] == "scrypt"
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o600
    account = ks.unlock("alice", "pw")
    assert account.address == entry.address
    # The file decrypts with eth-account directly: nothing project-specific in it.
    assert Account.from_key(Account.decrypt(document, "pw")).address == entry.address


def test_import_key_and_list(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, scrypt_n=N)
    entry = ks.import_key("bob", KEY, "pw")
    assert entry.address == Account.from_key(KEY).address
    ks.create("carol", "pw")
    assert [e.name for e in ks.list()] == ["bob", "carol"]
    assert ks.address("bob") == entry.address


def test_import_keystore_file_copied_or_reencrypted(tmp_path: Path) -> None:
    source = tmp_path / "exported.json"
    source.write_text(json.dumps(Account.encrypt(KEY, "old", iterations=N)))
    ks = Keystore(tmp_path / "ks", scrypt_n=N)
    same = ks.import_file("copy", source, "old")
    assert ks.unlock("copy", "old").address == same.address
    ks.import_file("fresh", source, "old", password="new")
    assert ks.unlock("fresh", "new").address == same.address
    with pytest.raises(KeystoreError, match="wrong password"):
        ks.import_file("bad", source, "nope")
    assert not ks.exists("bad")


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, scrypt_n=N)
    ks.create("alice", "pw")
    with pytest.raises(KeystoreError, match="already exists"):
        ks.create("alice", "pw")
    with pytest.raises(KeystoreError, match="wrong password"):
        ks.unlock("alice", "not-it")
    with pytest.raises(KeystoreError, match=r"no account 'zed'.*known: alice"):
        ks.unlock("zed", "pw")
    with pytest.raises(KeystoreError, match="account name"):
        ks.create("../escape", "pw")
    with pytest.raises(KeystoreError, match="empty password"):
        ks.create("empty", "")
    for bad in ("0x1234", "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32):
        with pytest.raises(KeystoreError):
            parse_private_key(bad)
    assert parse_private_key("  " + KEY[2:] + "\n") == bytes.fromhex(KEY[2:])


def test_corrupt_files_are_skipped_and_reported(tmp_path: Path) -> None:
    ks = Keystore(tmp_path, scrypt_n=N)
    ks.create("good", "pw")
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"version": 1, "crypto": {}}))
    assert [e.name for e in ks.list()] == ["good"]
    problems = "\n".join(ks.problems())
    assert "broken.json" in problems and "other.json" in problems and "version 1" in problems


def test_default_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOURNEY_KEYSTORE_DIR", str(tmp_path / "x"))
    assert default_keystore_dir() == tmp_path / "x"
    monkeypatch.delenv("TOURNEY_KEYSTORE_DIR")
    assert default_keystore_dir() == Path.home() / ".tourney" / "keystores"
