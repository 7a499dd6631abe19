"""The service's database layer without a chain: migrations on SQLite and on a real PostgreSQL server, the
ledger's refusals (duplicate, replay, late after the close), concurrent writers racing for one model, and the
intake's fast file check agreeing with the scoring package's full check on every kind of file."""

from __future__ import annotations

import io
import threading
from collections import Counter
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
from eth_account import Account

from oracle.protocol.submission import replay_key, sign_submission
from oracle.scoring.tables import combine_model_files, read_prediction_file
from oracle.scoring.validation import TableError, validate_predictions
from oracle.service.db.engine import Database, DatabaseError
from oracle.service.db.ledger import Ledger, Refusal
from oracle.service.prediction_check import LiveIds, prediction_problems
from oracle.testing.postgres import Postgres, start_postgres

TOURNAMENT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OWNER = Account.from_key(b"\x01" * 32)
FAR = 10**9


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/service.db"
    else:
        url = request.getfixturevalue("postgres").create_database(f"ledger_{abs(hash(str(tmp_path)))}")
    database = Database(url)
    assert database.migrate() == database.head_revision()
    assert database.migrate() == database.head_revision()  # a second start finds nothing to do
    try:
        yield database
    finally:
        database.dispose()


def _sub(model_id: int, data: bytes, deadline: int = 2 * FAR, round: int = 1):
    return sign_submission(OWNER, 31337, TOURNAMENT, round, model_id, data, deadline)


def _commit(ledger: Ledger, sub, now: int = 100):
    return ledger.commit(sub, f"/objects/{sub.predictions_hash}", FAR, lambda: now, lambda s: "0x" + "ab" * 65)


def test_ledger_receipts_once_refuses_replays_and_closes(db: Database) -> None:
    ledger = Ledger(db)
    first, second = _sub(5, b"first"), _sub(5, b"second")
    stored = _commit(ledger, first)
    assert (stored.seq, stored.sub.received_at) == (1, 100)
    with pytest.raises(Refusal) as duplicate:
        _commit(ledger, first)
    assert duplicate.value.code == "duplicate" and duplicate.value.stored == stored
    # Same content, another signature (any second signature over it): still the same request.
    assert replay_key(first) == replay_key(_sub(5, b"first"))
    replaced = _commit(ledger, second, now=100)
    assert (replaced.seq, replaced.sub.received_at) == (2, 101)  # stamps strictly increase per model
    with pytest.raises(Refusal) as replayed:
        _commit(ledger, first)
    assert replayed.value.code == "replayed"
    with pytest.raises(Refusal) as expired:
        _commit(ledger, _sub(6, b"x", deadline=50))
    assert expired.value.code == "expired"
    assert [s.sub.predictions_hash for s in ledger.latest(1)] == [second.predictions_hash]
    assert len(ledger.receipted(1)) == 2
    ledger.close(1)
    with pytest.raises(Refusal) as late:
        _commit(ledger, _sub(7, b"after the close"))
    assert late.value.code == "late"
    with pytest.raises(Refusal) as still_duplicate:  # a lost answer can be recovered after the close too
        _commit(ledger, second)
    assert still_duplicate.value.code == "duplicate"
    assert ledger.is_closed(1) and not ledger.is_closed(2)


def test_concurrent_writers_for_one_model_get_distinct_sequences(db: Database) -> None:
    ledgers = [Ledger(db) for _ in range(2)]
    subs = [_sub(9, f"file {i}".encode()) for i in range(24)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        for sub in subs[i::4] + subs[i::4]:  # every request twice: the second is a duplicate or a replay
            try:
                _commit(ledgers[i % 2], sub)
                result = "receipt"
            except Refusal as exc:
                result = exc.code
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    receipted = ledgers[0].receipted(1)
    assert outcomes.count("receipt") == len(subs) == len(receipted), Counter(outcomes)
    assert sorted(s.seq for s in receipted) == list(range(1, len(subs) + 1))
    stamps = [s.sub.received_at for s in sorted(receipted, key=lambda s: s.seq)]
    assert stamps == sorted(set(stamps))
    assert set(outcomes) <= {"receipt", "duplicate", "replayed"}


def test_a_bad_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="unsupported backend"):
        Database("mysql://nobody@localhost/db")
    with pytest.raises(DatabaseError, match="in-memory"):
        Database("sqlite://")
    with pytest.raises(DatabaseError, match="migration failed"):
        Database("postgresql://nobody@127.0.0.1:1/none").migrate()


LIVE = [f"id{i:03d}" for i in range(40)]


def _csv(rows: list[tuple[str, object]], header: str = "id,prediction") -> bytes:
    return (header + "\n" + "".join(f"{i},{v}\n" for i, v in rows)).encode()


def _full_check(name: str, data: bytes, live: list[str], share: float) -> list[str]:
    frame = read_prediction_file(name, data)
    combined, errors = combine_model_files({"7": frame})
    if errors:
        return [str(e) for e in errors]
    try:
        return [str(e) for e in validate_predictions(combined, sorted(live), min_live_share=share).errors]
    except TableError as exc:
        return [str(e) for e in exc.errors]


def _parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


GOOD = [(i, (n % 7) / 7) for n, i in enumerate(LIVE)]
FILES = {
    "clean.csv": _csv(GOOD),
    "clean.parquet": _parquet(pd.DataFrame({"id": LIVE, "prediction": [v for _, v in GOOD]})),
    "int_predictions.csv": _csv([(i, n % 2) for n, i in enumerate(LIVE)]),
    "out_of_range.csv": _csv(GOOD[:-1] + [(LIVE[-1], 1.5)]),
    "nan.csv": _csv(GOOD[:-1] + [(LIVE[-1], "nan")]),
    "empty_cell.csv": _csv(GOOD[:-1] + [(LIVE[-1], "")]),
    "inf.csv": _csv(GOOD[:-1] + [(LIVE[-1], "inf")]),
    "text.csv": _csv(GOOD[:-1] + [(LIVE[-1], "high")]),
    "duplicate_id.csv": _csv(GOOD + [GOOD[0]]),
    "unknown_id.csv": _csv(GOOD + [("stranger", 0.5)]),
    "missing_ids.csv": _csv(GOOD[:-5]),
    "constant.csv": _csv([(i, 0.5) for i in LIVE]),
    "two_columns.csv": _csv([(i, f"{v},{v}") for i, v in GOOD], header="id,a,b"),
    "no_id.csv": _csv(GOOD, header="key,prediction"),
    "id_twice.csv": _csv(GOOD, header="id,id"),
    "bool.csv": _csv([(i, n % 2 == 0) for n, i in enumerate(LIVE)]),
    "int_ids.parquet": _parquet(pd.DataFrame({"id": range(40), "prediction": [v for _, v in GOOD]})),
}


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("share", [1.0, 0.8])
def test_fast_check_agrees_with_the_full_check(name: str, share: float) -> None:
    data = FILES[name]
    try:
        expected = _full_check(name, data, LIVE, share)
    except TableError as exc:
        with pytest.raises(TableError):
            prediction_problems(name, data, LiveIds(LIVE), share, "7")
        assert str(exc)
        return
    assert prediction_problems(name, data, LiveIds(LIVE), share, "7") == expected


def test_a_live_id_pandas_reads_as_missing_turns_the_fast_path_off() -> None:
    live = LIVE[:-1] + ["NA"]
    data = _csv([(i, (n % 7) / 7) for n, i in enumerate(live)])
    assert not LiveIds(live).fast
    assert prediction_problems("p.csv", data, LiveIds(live), 1.0, "7") == _full_check("p.csv", data, live, 1.0) != []


def test_clean_files_are_decided_on_the_arrow_table() -> None:
    from oracle.service.prediction_check import _arrow_table, _clean

    for name in ("clean.csv", "clean.parquet", "int_predictions.csv"):
        assert _clean(_arrow_table(name, FILES[name]), LiveIds(LIVE), 1.0), name
    for name in ("out_of_range.csv", "nan.csv", "duplicate_id.csv", "unknown_id.csv", "constant.csv"):
        assert not _clean(_arrow_table(name, FILES[name]), LiveIds(LIVE), 1.0), name


def test_the_round_collects_the_ledger_and_the_inbox_deliveries_later_stamp_current(
    db: Database, tmp_path: Path
) -> None:
    """Participants may deliver to the inbox beside the service: the snapshot takes both, per model the later
    stamp (the service's receipt on a tie)."""
    from dataclasses import replace

    from oracle.bundle.store import atomic_put
    from oracle.protocol.inbox import Inbox
    from oracle.service.db.source import LedgerInbox

    inbox = Inbox(str(tmp_path / "inbox"))
    ledger = Ledger(db)

    def receipt(sub, now: int) -> None:
        atomic_put(inbox.fs, inbox.object_path(sub), data[sub.model_id, sub.predictions_hash])
        ledger.commit(sub, inbox.object_path(sub), FAR, lambda: now, lambda s: "0x" + "ab" * 65)

    subs = {
        "svc1": _sub(1, b"service 1"),
        "svc2": _sub(2, b"service 2"),
        "svc3": _sub(3, b"service 3"),
        "box2": _sub(2, b"inbox 2"),
        "box3": _sub(3, b"inbox 3"),
        "box4": _sub(4, b"inbox 4"),
    }
    data = {
        (s.model_id, s.predictions_hash): raw
        for s, raw in zip(subs.values(), (b"service 1", b"service 2", b"service 3", b"inbox 2", b"inbox 3", b"inbox 4"))
    }
    receipt(subs["svc1"], 100)
    receipt(subs["svc2"], 100)
    receipt(subs["svc3"], 100)
    inbox.put(replace(subs["box2"], received_at=150), b"inbox 2")  # later than the service's: current
    inbox.put(replace(subs["box3"], received_at=100), b"inbox 3")  # a tie: the service's receipt stays current
    inbox.put(replace(subs["box4"], received_at=90), b"inbox 4")  # a model only delivered to the inbox
    source = LedgerInbox(ledger, inbox)
    collected = source.collect(1)
    assert collected.problems == []
    assert [(s.model_id, raw) for s, raw in collected] == [
        (1, b"service 1"),
        (2, b"inbox 2"),
        (3, b"service 3"),
        (4, b"inbox 4"),
    ]
    assert source.get(1, 2)[1] == b"inbox 2" and source.get(1, 3)[1] == b"service 3"
    assert source.get(1, 5) is None


def _commit_in_one_batch(ledger: Ledger, requests: list[tuple]) -> list[object]:
    """Commit ``requests`` ((sub, clock) pairs) from one thread each, queued in this order while the test holds the
    ledger's turn, so that one thread then commits them all in one batch; returns each one's Stored or exception."""
    outcomes: list[object] = [None] * len(requests)

    def send(i: int, sub, clock) -> None:
        try:
            outcomes[i] = ledger.commit(sub, f"/objects/{sub.predictions_hash}", FAR, clock, lambda s: "0x" + "ab" * 65)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = []
    with ledger._turn:
        for i, (sub, clock) in enumerate(requests):
            threads.append(threading.Thread(target=send, args=(i, sub, clock)))
            threads[-1].start()
            while len(ledger._queue) < i + 1:  # queued in order
                threading.Event().wait(0.001)
    for t in threads:
        t.join()
    return outcomes


def test_one_batch_decides_each_request_as_if_committed_one_by_one(db: Database) -> None:
    ledger = Ledger(db)
    _commit(ledger, _sub(1, b"the model's warm-up"))  # the round's gate row exists before the batch
    first, second, other = _sub(5, b"first"), _sub(5, b"second"), _sub(6, b"other")

    def clock() -> int:
        return 100

    def broken_clock() -> int:
        raise RuntimeError("the chain did not answer")

    outcomes = _commit_in_one_batch(
        ledger,
        [
            (first, clock),
            (first, clock),  # the same request again: a duplicate of the one just before it in the batch
            (second, clock),  # replaces it: seq 2, stamped after it
            (first, clock),  # now an old request: a replay
            (_sub(7, b"x"), broken_clock),  # its own failure only
            (other, clock),
        ],
    )
    stored_first = outcomes[0]
    assert (stored_first.seq, stored_first.sub.received_at) == (1, 100)
    assert isinstance(outcomes[1], Refusal) and outcomes[1].code == "duplicate"
    assert outcomes[1].stored == stored_first
    assert (outcomes[2].seq, outcomes[2].sub.received_at) == (2, 101)
    assert isinstance(outcomes[3], Refusal) and outcomes[3].code == "replayed"
    assert isinstance(outcomes[4], RuntimeError)
    assert outcomes[5].seq == 1
    # Committed exactly as decided: the receipted rows are the accepted requests, and nothing of model 7.
    assert {(s.sub.model_id, s.seq) for s in ledger.receipted(1)} == {(1, 1), (5, 1), (5, 2), (6, 1)}
    # The next request of the model sees the batch's rows.
    with pytest.raises(Refusal) as duplicate:
        _commit(ledger, second)
    assert duplicate.value.code == "duplicate" and duplicate.value.stored == outcomes[2]
