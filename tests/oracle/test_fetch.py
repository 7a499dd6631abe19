"""The bounded fetcher: every hostile URI is refused quickly with a message naming the rule, and nothing outside the
allow-list is opened. Real files, a real FIFO and device, and a real local HTTP server that misbehaves."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from oracle.bundle.fetch import Fetcher, FetchError, FetchNotFound, FetchPolicy
from oracle.testing.hostile_http import HostileServer, start_hostile_server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    directory.mkdir()
    (directory / "manifest.json").write_bytes(b'{"round": 1}')
    return directory


@pytest.fixture
def server() -> HostileServer:
    with start_hostile_server() as running:
        running.files["manifest.json"] = b'{"round": 2}'
        yield running


def refused(read: Callable[[], bytes], *fragments: str, error: type[FetchError] = FetchError) -> str:
    """Run ``read`` in a thread (a hang fails the test instead of stalling it) and return its refusal."""
    outcome: dict[str, BaseException | bytes] = {}

    def target() -> None:
        try:
            outcome["value"] = read()
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the read hung"
    assert "error" in outcome, f"expected a refusal, read {outcome.get('value')!r}"
    exc = outcome["error"]
    assert isinstance(exc, error), repr(exc)
    for fragment in fragments:
        assert fragment in str(exc), str(exc)
    return str(exc)


def test_the_default_policy_allows_nothing(root: Path) -> None:
    refused(
        lambda: Fetcher(FetchPolicy()).read(str(root / "manifest.json")),
        "not under an allowed root",
        "allowed roots: none",
    )


def test_a_file_under_an_allowed_root_is_read_as_a_path_or_file_uri(root: Path) -> None:
    fetcher = Fetcher(FetchPolicy(roots=(str(root),)))
    assert fetcher.read(str(root / "manifest.json")) == b'{"round": 1}'
    assert fetcher.read(f"file://{root}/manifest.json") == b'{"round": 1}'
    assert fetcher.read_bytes == 24
    refused(lambda: fetcher.read(str(root / "absent.json")), "not found", error=FetchNotFound)


@pytest.mark.parametrize(
    "uri, fragment",
    [
        ("/", "not a regular file (a directory)"),
        ("/dev/zero", "not a regular file (a character device)"),
        ("/dev/urandom", "not a regular file (a character device)"),
    ],
)
def test_special_files_are_refused_even_under_an_allowed_root(uri: str, fragment: str) -> None:
    refused(lambda: Fetcher(FetchPolicy(roots=("/",))).read(uri), fragment)


def test_a_path_outside_the_roots_is_refused_before_it_is_opened(root: Path) -> None:
    fetcher = Fetcher(FetchPolicy(roots=(str(root),)))
    refused(lambda: fetcher.read("/dev/zero"), "/dev/zero is not under an allowed root", str(root))
    refused(lambda: fetcher.read(f"{root}/../store-evil/manifest.json"), "not under an allowed root")
    (root / "link.json").symlink_to("/etc/hostname")
    refused(lambda: fetcher.read(str(root / "link.json")), "/etc/hostname is not under an allowed root")
    refused(lambda: fetcher.read("rounds/1/manifest.json"), "must be absolute")


def test_directories_fifos_and_huge_files_under_the_root_are_refused(root: Path) -> None:
    fetcher = Fetcher(FetchPolicy(roots=(str(root),), max_manifest_bytes=1 << 20))
    (root / "rounds").mkdir()
    refused(lambda: fetcher.read(str(root / "rounds")), "a directory")
    os.mkfifo(root / "pipe.json")  # nobody writes: a blocking open would wait forever
    refused(lambda: fetcher.read(str(root / "pipe.json")), "a FIFO")
    huge = root / "huge.json"
    with open(huge, "wb") as handle:
        handle.truncate(64 << 30)  # sparse: 64 GiB that take no disk
    refused(lambda: fetcher.read(str(huge)), f"{64 << 30} bytes, over the limit of {1 << 20} bytes")


def test_a_file_is_read_only_up_to_its_declared_size(root: Path) -> None:
    fetcher = Fetcher(FetchPolicy(roots=(str(root),), max_file_bytes=100, max_total_bytes=30))
    assert fetcher.read(str(root / "manifest.json"), declared_size=12) == b'{"round": 1}'
    refused(lambda: fetcher.read(str(root / "manifest.json"), declared_size=5), "12 bytes, over the limit of 5")
    refused(lambda: fetcher.read(str(root / "manifest.json"), declared_size=1000), "declares 1000 bytes")
    # 12 bytes read already; 30 in all: another 12 fit, a third copy does not.
    assert fetcher.read(str(root / "manifest.json"), declared_size=12)
    refused(lambda: fetcher.read(str(root / "manifest.json"), declared_size=12), "limit of 30 bytes for one bundle")


@pytest.mark.parametrize(
    "uri",
    [
        "nosuchproto://x",
        "s3://bucket/rounds/1/manifest.json",
        "memory://m.json",
        "ftp://example.com/m.json",
        "data:,{}",
    ],
)
def test_other_schemes_are_refused(uri: str, root: Path) -> None:
    message = refused(lambda: Fetcher(FetchPolicy(roots=(str(root),), hosts=("example.com",))).read(uri))
    assert "not allowed" in message or "must be absolute" in message


def test_http_from_an_allowed_host_is_read(server: HostileServer) -> None:
    fetcher = Fetcher(FetchPolicy(hosts=(server.host,)))
    assert fetcher.read(server.url("/ok/manifest.json")) == b'{"round": 2}'
    refused(lambda: fetcher.read(server.url("/ok/nothing.json")), "404", error=FetchNotFound)
    # A redirect is followed only to an allowed host.
    assert fetcher.read(server.url(f"/redirect?to={server.url('/ok/manifest.json')}")) == b'{"round": 2}'
    refused(lambda: fetcher.read(server.url("/redirect?to=http://10.0.0.1/m.json")), "10.0.0.1:80 is not an allowed")


def test_a_host_not_allowed_is_never_contacted(server: HostileServer) -> None:
    host, port = server.host.split(":")
    policy = FetchPolicy(hosts=(host,))  # the default port only: not the server's
    refused(lambda: Fetcher(policy).read(server.url("/ok/manifest.json")), f"{host}:{port} is not an allowed host")
    refused(
        lambda: Fetcher(FetchPolicy(hosts=(server.host,))).read(f"http://user:secret@{server.host}/ok/manifest.json"),
        "credentials",
    )
    assert server.hits == []


@pytest.mark.parametrize(
    "path, fragment",
    [
        ("/stall", "no complete answer within"),  # accepts, never answers
        ("/drip", "no complete answer within"),  # slow loris: one byte at a time under any per-read timeout
        ("/endless", "longer than the limit"),  # no length, never ends
        ("/huge", "announced, over the limit"),  # announces a terabyte
    ],
)
def test_hostile_servers_are_cut_off(server: HostileServer, path: str, fragment: str) -> None:
    fetcher = Fetcher(FetchPolicy(hosts=(server.host,), max_manifest_bytes=1 << 20, timeout=1.0))
    started = time.monotonic()
    refused(lambda: fetcher.read(server.url(path)), fragment)
    # Generous bound: the point is that the read ends (by its deadline or its size limit), not how fast.
    assert time.monotonic() - started < 30


def test_nothing_is_read_after_the_deadline(root: Path) -> None:
    fetcher = Fetcher(FetchPolicy(roots=(str(root),)), deadline=time.monotonic() - 1)
    refused(lambda: fetcher.read(str(root / "manifest.json")), "time allowed for fetching is over")


@pytest.mark.parametrize("entry", ["http://example.com", "example.com/path", "user@example.com", "", "host:notaport"])
def test_malformed_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        FetchPolicy(hosts=(entry,))


def test_the_allow_list_from_the_environment(root: Path) -> None:
    policy = FetchPolicy.from_env(
        {
            "TOURNEY_MANIFEST_ROOTS": f"{root}{os.pathsep}/srv/bundles",
            "TOURNEY_MANIFEST_HOSTS": "bundles.example.org, 127.0.0.1:8080",
        }
    )
    assert policy.roots == (str(root), "/srv/bundles")
    assert policy.host_ports == (("bundles.example.org", None), ("127.0.0.1", 8080))
    assert FetchPolicy.from_env({}) == FetchPolicy()
