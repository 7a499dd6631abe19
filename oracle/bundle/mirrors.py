"""Bundle mirrors: other places to read a round's bundle from when its manifest URI cannot be opened here.

The manifest URI posted on-chain is where the operator keeps the bundle (often a path on the operator's machine).
A remote auditor or participant reads the same files from the operator's service, which serves the store by
content address under ``<service>/bundles/`` (``rounds/<r>/<manifest>`` and ``objects/<sha256>.<ext>``). Reading
from a mirror trusts nothing new: the manifest must still hash to the keccak posted on-chain, and every file to
its manifest entry.

Mirrors come from ``TOURNEY_BUNDLE_MIRRORS`` (comma-separated base URLs) and from :func:`add_mirror` (the CLI's
``--service URL``). A mirror base may be the service's URL (``/bundles`` is appended) or a store root itself.

The other way round, an operator that posts public manifest URIs (``--public-url``: its service's URL) reads them
from its own store: :func:`add_alias` maps the public prefix to the local store, tried first.
"""

from __future__ import annotations

import os

__all__ = ["MIRRORS_ENV", "add_alias", "add_mirror", "local_uri", "mirror_uris", "mirrors", "public_base"]

MIRRORS_ENV = "TOURNEY_BUNDLE_MIRRORS"
_added: list[str] = []
_aliases: dict[str, str] = {}


def public_base(url: str) -> str:
    """The store's base URL under a service URL: ``http://host:8000`` -> ``http://host:8000/bundles``."""
    return _store_base(url)


def _store_base(url: str) -> str:
    url = url.rstrip("/")
    if url.startswith(("http://", "https://")) and not url.endswith("/bundles"):
        return url + "/bundles"
    return url


def add_mirror(url: str) -> None:
    """Read bundles from ``url`` too (a service URL or a store root), for the rest of this process."""
    base = _store_base(url)
    if base not in _added:
        _added.append(base)


def mirrors() -> list[str]:
    """Every mirror base, explicit ones first."""
    from_env = [_store_base(u) for u in os.environ.get(MIRRORS_ENV, "").split(",") if u.strip()]
    return [*_added, *(u for u in from_env if u not in _added)]


def mirror_uris(manifest_uri: str) -> list[str]:
    """Where a manifest ``<root>/rounds/<r>/<name>`` is found on each mirror: ``<mirror>/rounds/<r>/<name>``."""
    parts = str(manifest_uri).rstrip("/").split("/")
    if len(parts) < 3 or parts[-3] != "rounds":
        return []
    tail = "/".join(parts[-3:])
    return [f"{base}/{tail}" for base in mirrors() if not str(manifest_uri).startswith(base + "/")]


def add_alias(public: str, local_root: str) -> None:
    """Read URIs under ``public`` (a service URL or its /bundles base) from ``local_root`` first."""
    _aliases[_store_base(public)] = str(local_root).rstrip("/")


def local_uri(uri: str) -> str | None:
    """The local copy of a public URI (see :func:`add_alias`), or None."""
    for public, local in _aliases.items():
        if str(uri).startswith(public + "/"):
            return local + str(uri)[len(public) :]
    return None
