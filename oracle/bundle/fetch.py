"""Bounded reads of untrusted URIs: what the guardian and the auditor fetch when the chain names a manifest.

A manifest URI comes from a ``RootProposed`` event, i.e. from whoever holds the oracle key. Reading it must never
hang past a deadline, exhaust memory, or read anything the reader did not mean to expose, so every read goes
through an explicit :class:`FetchPolicy` (nothing is allowed by default):

* **where**: a plain absolute path or a ``file://`` URI whose real path (symlinks resolved) is under one of
  ``roots``, and only a regular file (no directory, device such as ``/dev/zero``, FIFO or socket); or an
  ``http://``/``https://`` URL to one of ``hosts`` (``host`` allows the scheme's default port, ``host:port`` that
  port), redirects followed at most :data:`MAX_REDIRECTS` times, each target checked again. Any other scheme is
  refused before anything is opened.
* **how much**: a manifest at most ``max_manifest_bytes``; a bundle file at most ``max_file_bytes`` and never more
  than one byte past the size its manifest declares; all reads of one :class:`Fetcher` together at most
  ``max_total_bytes``.
* **how long**: every read ends by the fetcher's deadline (``timeout`` seconds after it was made, or earlier when
  the caller says so, e.g. before a challenge window closes). HTTP reads run under one asyncio deadline covering
  connection, headers and body, so a server that stalls, drips a byte at a time or streams forever is cut off.

Every failure is a :class:`FetchError` (a :class:`~oracle.bundle.store.BundleError`) naming the URI and the rule.
:class:`TrustedReader` is the unbounded counterpart for stores the caller owns (the operator's own store, any
fsspec URL).
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol
from urllib.parse import urljoin, urlsplit

from oracle.bundle.store import BundleError

__all__ = [
    "FetchError",
    "FetchNotFound",
    "FetchPolicy",
    "Fetcher",
    "MAX_REDIRECTS",
    "Reader",
    "TrustedReader",
]

MAX_REDIRECTS = 3
_CHUNK = 1 << 16
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(BundleError):
    """A bounded read was refused or failed; the message names the URI and the rule it broke."""


class FetchNotFound(FetchError):
    """The URI is allowed but nothing is there."""


@dataclass(frozen=True)
class FetchPolicy:
    """Where untrusted URIs may be read from, and how much and how long a read may take (see the module docstring).

    ``roots`` are local directories; ``hosts`` are ``host`` or ``host:port`` names (no scheme). The default policy
    allows nothing, so a caller that forgot to configure it refuses every URI instead of reading anything."""

    roots: tuple[str, ...] = ()
    hosts: tuple[str, ...] = field(default=(), compare=False)
    max_manifest_bytes: int = 16 << 20
    max_file_bytes: int = 1 << 30
    max_total_bytes: int = 4 << 30
    timeout: float = 120.0
    # ``hosts`` parsed: (host name, port or None for the scheme's default), what URLs are checked against (and what
    # two policies are compared by, so ``Example.com`` and ``example.com`` allow the same).
    host_ports: tuple[tuple[str, int | None], ...] = field(init=False, repr=False, default=())

    def __post_init__(self) -> None:
        roots = tuple(os.path.realpath(os.fspath(Path(r).expanduser())) for r in self.roots)
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "host_ports", tuple(_host_entry(h) for h in self.hosts))
        for name in ("max_manifest_bytes", "max_file_bytes", "max_total_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FetchPolicy.{name} must be a positive number of bytes, got {value!r}")
        if not self.timeout > 0:
            raise ValueError(f"FetchPolicy.timeout must be positive seconds, got {self.timeout!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "FetchPolicy":
        """The allow-list from ``TOURNEY_MANIFEST_ROOTS`` (paths separated by ``os.pathsep``) and
        ``TOURNEY_MANIFEST_HOSTS`` (separated by spaces or commas), as ``tourney verify`` reads them."""
        env = os.environ if environ is None else environ
        roots = [r for r in env.get("TOURNEY_MANIFEST_ROOTS", "").split(os.pathsep) if r]
        hosts = env.get("TOURNEY_MANIFEST_HOSTS", "").replace(",", " ").split()
        return cls(roots=tuple(roots), hosts=tuple(hosts))

    def describe(self) -> str:
        """The allow-list in one line (quoted in refusals, so a misconfiguration is obvious)."""
        roots = ", ".join(self.roots) or "none"
        hosts = ", ".join(f"{h}:{p}" for h, p in self.host_ports) or "none"
        return f"allowed roots: {roots}; allowed hosts: {hosts}"


def _host_entry(entry: str) -> tuple[str, int | None]:
    """``host`` -> (host, None: the scheme's default port); ``host:port`` -> (host, port)."""
    text = str(entry).strip()
    if not text or "/" in text or "@" in text:
        raise ValueError(f"allowed host {entry!r} must be a host name or host:port, without scheme, path or user")
    parsed = urlsplit("//" + text)
    try:
        port = parsed.port
    except ValueError:
        raise ValueError(f"allowed host {entry!r} has an invalid port") from None
    if not parsed.hostname:
        raise ValueError(f"allowed host {entry!r} has no host name")
    return parsed.hostname.lower(), port


class Reader(Protocol):
    """Reads one URI: a manifest (``declared_size`` None) or a bundle file of the size its manifest declares."""

    def read(self, uri: str, declared_size: int | None = None) -> bytes: ...


class TrustedReader:
    """Reads any fsspec URL without limits: for stores the caller owns, never for a URI taken from the chain."""

    def read(self, uri: str, declared_size: int | None = None) -> bytes:
        import fsspec

        try:
            with fsspec.open(uri, "rb") as handle:
                result: bytes = handle.read()
                return result
        except FileNotFoundError:
            raise FetchNotFound(f"{uri}: not found") from None


@dataclass
class Fetcher:
    """Reads untrusted URIs under ``policy``, all of them by one deadline and within one byte budget.

    ``deadline`` is a ``time.monotonic()`` value; by default ``policy.timeout`` seconds from now."""

    policy: FetchPolicy
    deadline: float | None = None
    read_bytes: int = field(default=0, init=False)
    #: load_bundle reads a bundle's files several at a time: each read reserves its allowance under this lock, so
    #: concurrent reads can never pass the byte budget together.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        limit = time.monotonic() + self.policy.timeout
        self.deadline = limit if self.deadline is None else min(self.deadline, limit)

    def remaining(self) -> float:
        assert self.deadline is not None
        return self.deadline - time.monotonic()

    def read(self, uri: str, declared_size: int | None = None) -> bytes:
        """The bytes at ``uri``: a manifest when ``declared_size`` is None, else a bundle file that must be exactly
        that long (reading stops one byte past it, so a longer file is refused rather than read whole)."""
        uri = str(uri)
        with self._lock:
            budget = self.policy.max_total_bytes - self.read_bytes
            if declared_size is None:
                allowed = min(self.policy.max_manifest_bytes, budget)
            elif declared_size > self.policy.max_file_bytes:
                raise FetchError(
                    f"{uri}: the manifest declares {declared_size} bytes, over the limit of "
                    f"{self.policy.max_file_bytes} bytes per file"
                )
            else:
                allowed = declared_size
            if allowed > budget or budget <= 0:
                raise FetchError(
                    f"{uri}: not read: it would pass the limit of {self.policy.max_total_bytes} bytes "
                    f"for one bundle ({self.read_bytes} read or being read already)"
                )
            self.read_bytes += allowed  # reserved; what was not read is given back below
        data = b""
        try:
            if self.remaining() <= 0:
                raise FetchError(f"{uri}: not read: the time allowed for fetching is over")
            scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
            if scheme in ("", "file"):
                data = self._read_file(uri, allowed)
            elif scheme in ("http", "https"):
                data = self._read_http(uri, allowed)
            else:
                raise FetchError(
                    f"{uri}: scheme {scheme!r} is not allowed (only file paths under the allowed roots "
                    f"and http(s) to the allowed hosts; {self.policy.describe()})"
                )
        finally:
            with self._lock:
                self.read_bytes -= allowed - len(data)
        return data

    # -------------------------------------------------------------- local files

    def _read_file(self, uri: str, allowed: int) -> bytes:
        text = uri[len("file://") :] if uri.lower().startswith("file://") else uri
        if not text.startswith("/"):
            raise FetchError(f"{uri}: a local manifest path must be absolute")
        path = os.path.realpath(text)
        if not any(path == root or path.startswith(root.rstrip("/") + "/") for root in self.policy.roots):
            raise FetchError(f"{uri}: {path} is not under an allowed root ({self.policy.describe()})")
        # O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the path was resolved above, a symlink
        # swapped in since is refused rather than followed.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise FetchNotFound(f"{uri}: not found") from None
        except OSError as exc:
            raise FetchError(f"{uri}: cannot be opened ({exc.strerror})") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FetchError(f"{uri}: not a regular file ({_kind(info.st_mode)})")
            if info.st_size > allowed:
                raise FetchError(f"{uri}: {info.st_size} bytes, over the limit of {allowed} bytes")
            chunks, total = [], 0
            while total <= allowed:
                if self.remaining() <= 0:
                    raise FetchError(f"{uri}: reading took longer than the time allowed")
                chunk = os.read(fd, min(_CHUNK, allowed + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            if total > allowed:
                raise FetchError(f"{uri}: grew past the limit of {allowed} bytes while being read")
            return b"".join(chunks)
        except OSError as exc:
            raise FetchError(f"{uri}: cannot be read ({exc.strerror})") from None
        finally:
            os.close(fd)

    # -------------------------------------------------------------- http(s)

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise FetchError(f"{url}: scheme {scheme!r} is not allowed ({self.policy.describe()})")
        if parts.username is not None or parts.password is not None:
            raise FetchError(f"{url}: URLs with user credentials are not allowed")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise FetchError(f"{url}: invalid port") from None
        host = (parts.hostname or "").lower()
        for allowed, allowed_port in self.policy.host_ports:
            if host == allowed and port == (allowed_port or _DEFAULT_PORTS[scheme]):
                return
        raise FetchError(f"{url}: host {host}:{port} is not an allowed host ({self.policy.describe()})")

    def _read_http(self, uri: str, allowed: int) -> bytes:
        self._check_host(uri)
        seconds = self.remaining()
        coroutine = _http_get(self, uri, allowed, seconds)
        try:
            return _run(coroutine)
        except TimeoutError:
            raise FetchError(f"{uri}: no complete answer within {seconds:.1f}s") from None
        except FetchError:
            raise
        except Exception as exc:  # noqa: BLE001 - aiohttp raises many types; every one is a failed fetch
            raise FetchError(f"{uri}: {type(exc).__name__}: {exc}") from None


async def _http_get(fetcher: Fetcher, url: str, allowed: int, seconds: float) -> bytes:
    import aiohttp

    # One deadline for everything: connecting, headers, body. A per-read timeout would let a server that drips one
    # byte at a time keep the reader forever.
    async with asyncio.timeout(seconds):
        timeout = aiohttp.ClientTimeout(total=seconds)
        # trust_env=False: no proxy from the environment; identity encoding: the bytes hashed are the bytes sent.
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False, auto_decompress=False) as session:
            for _ in range(MAX_REDIRECTS + 1):
                fetcher._check_host(url)
                async with session.get(url, allow_redirects=False, headers={"Accept-Encoding": "identity"}) as resp:
                    if resp.status in (301, 302, 303, 307, 308):
                        location = resp.headers.get("Location")
                        if not location:
                            raise FetchError(f"{url}: HTTP {resp.status} without a Location")
                        url = urljoin(url, location)
                        continue
                    if resp.status == 404:
                        raise FetchNotFound(f"{url}: not found (HTTP 404)")
                    if resp.status != 200:
                        raise FetchError(f"{url}: HTTP {resp.status}")
                    if resp.content_length is not None and resp.content_length > allowed:
                        raise FetchError(
                            f"{url}: {resp.content_length} bytes announced, over the limit of {allowed} bytes"
                        )
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        body += chunk
                        if len(body) > allowed:
                            raise FetchError(f"{url}: longer than the limit of {allowed} bytes")
                    return bytes(body)
            raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _run(coroutine: object) -> bytes:
    """Run a coroutine to completion from synchronous code, also when this thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="bounded-fetch", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["value"]  # type: ignore[return-value]


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"
