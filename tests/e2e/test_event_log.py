"""The event log on a real Anvil (through a counting JSON-RPC proxy): a sync reads only what is new, from a cursor
kept in SQLite across runs; reorgs (Anvil's evm_revert, then other transactions at the same heights) replace the
logs they undid, within the margin by re-reading it, deeper by reading everything again."""

from __future__ import annotations

from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.client import TournamentClient
from oracle.chain.event_log import EventLog, EventLogError
from oracle.chain.tx import Sender
from oracle.testing.rpc_proxy import start_rpc_proxy


def register(chain, account, times: int = 1) -> None:
    sender = Sender(chain.w3, account)
    for _ in range(times):
        sender.transact(chain.tournament.functions.registerModel())


def seen(client: TournamentClient) -> list[tuple]:
    return [(e.name, e.block, e.log_index, e.tx_hash, tuple(sorted(e.args.items()))) for e in client.events()]


@pytest.fixture
def proxy(chain):
    with start_rpc_proxy(chain.url) as running:
        yield running


def following(chain, proxy, path: Path | None, margin: int = 4, **kwargs) -> TournamentClient:
    w3 = Web3(Web3.HTTPProvider(proxy.url, exception_retry_configuration=None))
    client = TournamentClient(w3, chain.deployment)
    client.follow(str(path) if path else None, reorg_margin=margin, **kwargs)
    return client


def test_a_sync_reads_only_what_is_new(chain, participants, proxy, tmp_path: Path) -> None:
    plain = TournamentClient(chain.w3, chain.deployment)
    client = following(chain, proxy, tmp_path / "events.sqlite")
    client.sync_events()
    assert seen(client) == seen(plain) and client.event_log.count() > 0
    proxy.reset()
    client.sync_events()  # nothing new: one call
    assert proxy.snapshot() == {"eth_getBlockByNumber": 1}
    register(chain, participants[0].account, 3)
    proxy.reset()
    client.sync_events()  # new blocks: latest, anchor, one eth_getLogs, new anchor
    assert proxy.snapshot() == {"eth_getBlockByNumber": 3, "eth_getLogs": 1}
    assert seen(client) == seen(plain)
    assert client.event_log.cursor.number == chain.w3.eth.block_number


def test_the_cursor_survives_a_restart(chain, participants, proxy, tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    first = following(chain, proxy, path, margin=2)
    first.sync_events()
    cursor = first.event_log.cursor
    first.event_log.close()
    register(chain, participants[1].account, 2)
    again = following(chain, proxy, path, margin=2)
    assert again.event_log.cursor == cursor  # read back from the file, nothing fetched yet
    proxy.reset()
    again.sync_events()
    assert proxy.snapshot() == {"eth_getBlockByNumber": 3, "eth_getLogs": 1}
    assert seen(again) == seen(TournamentClient(chain.w3, chain.deployment))
    other = chain.deployment.__class__(**{**chain.deployment.__dict__, "block": chain.deployment.block + 1})
    with pytest.raises(EventLogError, match="start_block"):
        EventLog(chain.w3, other.tournament, other.block, path)


def test_a_reorg_within_the_margin_replaces_the_logs_it_undid(chain, participants, proxy) -> None:
    client = following(chain, proxy, None, margin=8)
    client.sync_events()
    fork = chain.snapshot()
    register(chain, participants[0].account, 2)
    client.sync_events()
    undone = seen(client)
    chain.revert(fork)
    register(chain, participants[1].account, 3)  # other transactions at the same heights, and one more block
    client.sync_events()
    assert seen(client) == seen(TournamentClient(chain.w3, chain.deployment)) != undone


def test_a_reorg_deeper_than_the_margin_reads_everything_again(chain, participants, proxy) -> None:
    rescans: list[str] = []
    client = following(chain, proxy, None, margin=1, on_rescan=rescans.append)
    fork = chain.snapshot()
    register(chain, participants[0].account, 5)
    client.sync_events()
    chain.revert(fork)
    register(chain, participants[1].account, 6)
    client.sync_events()
    assert len(rescans) == 1 and "a reorg deeper than 1 blocks" in rescans[0]
    assert seen(client) == seen(TournamentClient(chain.w3, chain.deployment))
