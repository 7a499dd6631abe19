"""Participant wallets: standard V3 encrypted keystores (the format geth, MetaMask exports and eth-account use).

A keystore directory holds one ``<name>.json`` per account, readable only by its owner (mode 0600). Keys never
leave the process unencrypted and are never taken as command-line arguments: the password comes from
``TOURNEY_PASSWORD`` (for scripts) or a hidden prompt.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3

from oracle.errors import TourneyError

__all__ = [
    "KEYSTORE_DIR_ENV",
    "PASSWORD_ENV",
    "KeystoreError",
    "KeystoreEntry",
    "Keystore",
    "default_keystore_dir",
    "password_from_env",
    "parse_private_key",
]

KEYSTORE_DIR_ENV = "TOURNEY_KEYSTORE_DIR"
PASSWORD_ENV = "TOURNEY_PASSWORD"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeystoreError(TourneyError, ValueError):
    """A keystore operation failed; the message names the account or file and what is wrong."""


@dataclass(frozen=True)
class KeystoreEntry:
    """One account in a keystore directory."""

    name: str
    address: str
    path: Path


def default_keystore_dir() -> Path:
    """``$TOURNEY_KEYSTORE_DIR`` or ``~/.tourney/keystores``."""
    configured = os.environ.get(KEYSTORE_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".tourney" / "keystores"


def password_from_env() -> str | None:
    """The password in ``$TOURNEY_PASSWORD``, or None when unset (the caller then prompts)."""
    return os.environ.get(PASSWORD_ENV)


def parse_private_key(text: str) -> bytes:
    """A 32-byte private key from hex text (with or without 0x, surrounding whitespace ignored)."""
    cleaned = text.strip()
    cleaned = cleaned[2:] if cleaned.lower().startswith("0x") else cleaned
    if not re.fullmatch(r"[0-9a-fA-F]{64}", cleaned):
        raise KeystoreError("a private key is 64 hex digits (optionally 0x-prefixed); what was given is not")
    key = bytes.fromhex(cleaned)
    if int.from_bytes(key, "big") == 0:
        raise KeystoreError("the private key is zero, which is not a valid key")
    try:
        Account.from_key(key)
    except Exception as exc:  # noqa: BLE001 - out-of-range keys raise from the curve library
        raise KeystoreError(f"not a valid secp256k1 private key: {exc}") from None
    return key


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise KeystoreError(
            f"account name {name!r} is invalid: use 1-64 letters, digits, '_', '.', '-' (starting with a letter "
            "or digit)"
        )
    return name


def _keystore_address(document: Any, where: str) -> ChecksumAddress:
    if not isinstance(document, dict) or ("crypto" not in document and "Crypto" not in document):
        raise KeystoreError(f"{where}: not a V3 keystore (no 'crypto' section)")
    if document.get("version") != 3:
        raise KeystoreError(f"{where}: keystore version {document.get('version')!r}, only version 3 is supported")
    address = document.get("address")
    if not isinstance(address, str) or not Web3.is_address("0x" + address.removeprefix("0x")):
        raise KeystoreError(f"{where}: keystore has no valid 'address' field")
    return Web3.to_checksum_address("0x" + address.removeprefix("0x"))


class Keystore:
    """A directory of named V3 keystores.

    ``scrypt_n`` sets the scrypt cost of newly written files (None: eth-account's standard 2**18, about a second
    per unlock on a small machine; tests pass a lower cost, the file is still a standard encrypted keystore)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, scrypt_n: int | None = None):
        self.directory = Path(directory).expanduser() if directory is not None else default_keystore_dir()
        self.scrypt_n = scrypt_n

    def __repr__(self) -> str:
        return f"Keystore({str(self.directory)!r})"

    def path(self, name: str) -> Path:
        return self.directory / f"{_check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, name: str, document: dict[str, Any]) -> KeystoreEntry:
        path = self.path(name)
        if path.exists():
            raise KeystoreError(f"account {name!r} already exists at {path}; choose another name")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file exclusively and owner-only, under a temp name, then rename: never a half keystore.
        tmp = self.directory / f".tmp-{uuid.uuid4().hex}-{name}.json"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if path.exists():  # lost a race with another writer of the same name
                raise KeystoreError(f"account {name!r} already exists at {path}; choose another name")
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return KeystoreEntry(name, _keystore_address(document, str(path)), path)

    def _encrypt(self, key: bytes, password: str) -> dict[str, Any]:
        if not password:
            raise KeystoreError("refusing an empty password: the keystore would be readable by anyone with the file")
        return Account.encrypt(key, password, kdf="scrypt", iterations=self.scrypt_n)

    def create(self, name: str, password: str) -> KeystoreEntry:
        """A new random account stored as ``name``."""
        _check_name(name)
        account = Account.create()
        return self._write(name, self._encrypt(bytes(account.key), password))

    def import_key(self, name: str, private_key: str | bytes, password: str) -> KeystoreEntry:
        """Store an existing private key (hex text or 32 bytes) as ``name``."""
        _check_name(name)
        key = private_key if isinstance(private_key, bytes) else parse_private_key(private_key)
        if len(key) != 32:
            raise KeystoreError(f"a private key is 32 bytes, got {len(key)}")
        return self._write(name, self._encrypt(key, password))

    def import_file(
        self, name: str, source: str | os.PathLike[str], source_password: str, password: str | None = None
    ) -> KeystoreEntry:
        """Import a V3 keystore file. With ``password`` None the file is copied as is (after checking that
        ``source_password`` unlocks it); otherwise it is re-encrypted under ``password``."""
        _check_name(name)
        source = Path(source)
        try:
            document = json.loads(source.read_text())
        except FileNotFoundError:
            raise KeystoreError(f"no keystore file {source}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KeystoreError(f"{source}: not JSON ({exc})") from None
        address = _keystore_address(document, str(source))
        key = self._decrypt(document, source_password, str(source))
        if Account.from_key(key).address != address:
            raise KeystoreError(
                f"{source}: the decrypted key belongs to {Account.from_key(key).address}, "
                f"not the file's address {address}"
            )
        return self._write(name, document if password is None else self._encrypt(key, password))

    # -- reading ---------------------------------------------------------------------------------

    def list(self) -> list[KeystoreEntry]:
        """Every readable account, by name. Unreadable files are skipped (see :meth:`problems`)."""
        return [entry for entry in self._scan() if isinstance(entry, KeystoreEntry)]

    # `list` is a method here, so the class body spells the builtin `builtins.list`.
    def problems(self) -> builtins.list[str]:
        """Why each ``*.json`` in the directory that is not a usable keystore was skipped."""
        return [entry for entry in self._scan() if isinstance(entry, str)]

    def _scan(self) -> builtins.list[KeystoreEntry | str]:
        if not self.directory.is_dir():
            return []
        found: builtins.list[KeystoreEntry | str] = []
        for path in sorted(self.directory.glob("*.json")):
            name = path.stem
            if not _NAME_RE.match(name):
                continue
            try:
                found.append(KeystoreEntry(name, _keystore_address(json.loads(path.read_text()), str(path)), path))
            except (KeystoreError, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
                found.append(f"{path}: {exc}")
        return found

    def address(self, name: str) -> ChecksumAddress:
        """The address of ``name`` without unlocking it."""
        return _keystore_address(self._read(name), str(self.path(name)))

    def _read(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        try:
            document: dict[str, Any] = json.loads(path.read_text())
            return document
        except FileNotFoundError:
            known = ", ".join(e.name for e in self.list()) or "none"
            raise KeystoreError(f"no account {name!r} in {self.directory} (known: {known})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KeystoreError(f"{path}: not JSON ({exc})") from None

    @staticmethod
    def _decrypt(document: dict[str, Any], password: str, where: str) -> bytes:
        try:
            return bytes(Account.decrypt(document, password))
        except ValueError as exc:
            if "MAC mismatch" in str(exc):
                raise KeystoreError(f"{where}: wrong password") from None
            raise KeystoreError(f"{where}: cannot decrypt ({exc})") from None

    def unlock(self, name: str, password: str) -> LocalAccount:
        """The account ``name`` as a signer; :class:`KeystoreError` on a wrong password."""
        document = self._read(name)
        path = str(self.path(name))
        address = _keystore_address(document, path)
        account: LocalAccount = Account.from_key(self._decrypt(document, password, path))
        if account.address != address:
            raise KeystoreError(f"{path}: the decrypted key belongs to {account.address}, not {address}")
        return account
