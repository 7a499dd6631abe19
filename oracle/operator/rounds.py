"""The oracle operator: every round is a state machine driven by the chain and the artifact store.

A round moves Open -> Closed -> Proposed -> Active (Vetoed -> Proposed again after a guardian veto), or, when it is
not activated by ``closedAt + LAPSE_PERIOD``, Lapsed (a zero result for every model). Rounds resolve strictly in
order and at most one proposal is pending at a time: round r is proposed only once r-1 is resolved. What to do next
is always read back from the chain (``roundCursor``, ``roundInfo``, events) and the artifact store, never from
memory, so an operator killed at any point and started again picks up where the chain is:

* **open**: no round open and the previous one closed -> ``openRound(now + window)``;
* **close**: the open round's ``closesAt`` passed -> ``closeRound``, then, once it is mined, snapshot the inbox
  into the store. The snapshot keeps exactly the records stamped ``received_at < closesAt`` (chain time, as the
  service and ``tourney submit --inbox`` stamp them): anything else is rejected as late. Snapshotting after the
  close means a submission stored while the close was in flight (the service beside ``tourney operator run``)
  is judged by its stamp, like its receipt, and not lost; and since the snapshot is a function of the inbox and
  ``closesAt`` only, an operator killed between the close and the snapshot takes the same snapshot on resume;
* **lapse**: the next round to resolve reached its lapse deadline unactivated -> ``lapseRound`` (anyone may; the
  operator does it so that later rounds can go on);
* **activate**: the next round to resolve is proposed and its challenge window passed -> ``activateRoot``;
* **resolve**: the next round to resolve is closed (or vetoed), its targets are known and a proposal made now
  could still be activated before the round lapses -> check every snapshotted submission (signature, signer owns
  the model, model registered before the close, signed for this chain/contract/round, file hash), replay the
  stakes at risk from chain events, compute the payout limit (the free reserve from events, once r-1 resolved)
  and score with ``score_round`` (payouts scaled to the limit when they would exceed it), write the bundle
  (the same inputs give byte-identical files and the existing manifest is reused), then ``proposeRoot``.

The leaves of round r build on those of the last active round before it: a lapsed round adds nothing and has no
tree. Before each transaction the operator waits out its own in-flight transactions and re-reads the round's
status, so a transaction sent just before a crash is never sent again (the contract would refuse it anyway).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import pandas as pd
from eth_typing import HexStr
from web3 import Web3

from oracle.bundle.manifest import ChainRef, PayoutLimit, canonical_json
from oracle.bundle.round_bundle import REJECTIONS_FILE, SUBMISSIONS_FILE
from oracle.bundle.store import ArtifactStore
from oracle.bundle.write import write_round_bundle
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.clock import format_time
from oracle.chain.hashes import tx_hash
from oracle.chain.tx import Sender
from oracle.operator.caps import check_clip_fits_caps
from oracle.operator.config import HANG_ENV, STEPS, Action, OperatorConfig, OperatorError
from oracle.operator.intake import (
    check_submissions,
    rejection_order,
    scored_predictions,
    stored_submission_files,
    submission_file_name,
)
from oracle.operator.lineage import previous_cumulative_of
from oracle.operator.round_data import load_round_data
from oracle.operator.schedule import (
    Notices,
    open_blocker,
    prepare_paths,
    publish_rules,
    published_uri,
    stays_open,
    targets_missing,
)
from oracle.operator.snapshot import load_snapshot, snapshot_name, take_snapshot
from oracle.protocol.inbox import Inbox
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round

__all__ = ["Operator"]


# ------------------------------------------------------------------------------------------ the operator


@dataclass
class Operator:
    """Drives the rounds of one tournament with the oracle's key."""

    client: TournamentClient
    sender: Sender
    config: OperatorConfig
    log: Callable[[str], None] = field(default=lambda message: None)
    hang_at: str | None = field(default_factory=lambda: os.environ.get(HANG_ENV) or None)
    #: Where submissions are collected from (anything with the inbox's ``collect(round)``); the inbox at
    #: ``config.inbox`` when None. The service passes its database ledger.
    submissions: Any = None

    def __post_init__(self) -> None:
        if self.hang_at is not None and self.hang_at not in STEPS:
            raise ValueError(f"{HANG_ENV}={self.hang_at!r} is not a step; steps are {', '.join(STEPS)}")
        self.store = ArtifactStore(self.config.store)
        self.inbox = self.submissions if self.submissions is not None else Inbox(self.config.inbox)
        # The file inbox exists even when submissions come from the service's database (the files live there).
        prepare_paths(self.config, self.store, Inbox(self.config.inbox))
        self.notices = Notices(self.log)  # what it waits for, said once; a stale chain clock
        self.t = self.client.tournament

    # -------------------------------------------------------------- driving

    def step(self) -> list[Action]:
        """Do every step that is due now, for every round; returns what was done.

        Resolution first (lapse, activate), then the proposal it unblocks: round r can be proposed in the same pass
        that activates r-1."""
        actions: list[Action] = []
        self.notices.check_clock(self.client)
        actions += self.close_due()
        actions += self.lapse_due()
        actions += self.activate_due()
        actions += self.propose_due()
        actions += self.open_due(wait_for_models=True)
        return actions

    def run(self, poll: float = 2.0, until_round: int | None = None, once: bool = False) -> list[Action]:
        """Step until round ``until_round`` is resolved (or forever); ``once`` steps a single time."""
        done: list[Action] = []
        while True:
            done += self.step()
            if once:
                return done
            if until_round is not None and self.client.cursor().last_resolved >= until_round:
                return done
            time.sleep(poll)

    def _reached(self, step: str, round: int) -> None:
        """A named point of the state machine: tests make the operator hang here to kill it."""
        if self.hang_at == step:
            print(f"operator: hanging after {step} (round {round})", file=sys.stderr, flush=True)
            while True:
                time.sleep(3600)

    def _transact(self, fn: Any, action: str) -> Any:
        receipt = self.sender.transact(fn, action=action)
        return receipt

    def _wait_inflight(self) -> None:
        """Wait until no transaction of ours is pending: one sent before a crash must land before we decide again."""
        w3, address = self.sender.w3, self.sender.address
        deadline = time.monotonic() + self.config.inflight_timeout
        while w3.eth.get_transaction_count(address, "pending") > w3.eth.get_transaction_count(address, "latest"):
            if time.monotonic() > deadline:
                raise OperatorError(
                    f"transactions of {address} still pending after {self.config.inflight_timeout:.0f}s"
                )
            time.sleep(0.5)

    # -------------------------------------------------------------- open

    def open_due(self, strict: bool = False, wait_for_models: bool = False) -> list[Action]:
        """Open the next round when none is open (and the round limit allows) and its live data is published, first
        publishing its rules; otherwise say (once) which file is missing, or raise it (``strict``). With
        ``wait_for_models`` (the operator's loop, the service, ``round open``) no round opens before a model exists."""
        self._wait_inflight()
        self.notices.check_clock(self.client)  # a stale clock would shorten the window, counted from the last block
        round = self.client.cursor().last_closed + 1
        if self.config.max_rounds is not None and round > self.config.max_rounds:
            return []
        if self.client.round_state(round).status is not RoundStatus.NONE:
            return []
        blocker = open_blocker(self.client, self.config, round, wait_for_models)
        if blocker is not None:
            return self.notices.refuse(blocker, strict)
        # The round takes the contract's current caps when it opens: refuse before they are fixed for it.
        _, payout_cap, burn_cap = self.client.bounds()
        check_clip_fits_caps(self.round_params(round), payout_cap, burn_cap, f"round {round} (not opened)")
        publish_rules(self.store, self.config, round)
        closes_at = self.client.now() + self.config.submission_window
        receipt = self._transact(self.t.functions.openRound(closes_at), f"open round {round}")
        self.log(f"round {round}: opened, submissions until {format_time(closes_at)}")
        self._reached("opened", round)
        return [Action("open", round, f"closes {format_time(closes_at)}", tx_hash(receipt), receipt["gasUsed"])]

    # -------------------------------------------------------------- close

    #: The store record holding a round's inbox snapshot (:mod:`oracle.operator.snapshot`).
    snapshot_name = staticmethod(snapshot_name)

    def load_snapshot(self, round: int) -> dict[str, Any] | None:
        return load_snapshot(self.store, round)

    def close_due(self) -> list[Action]:
        """Close the open round once its submission window passed, then snapshot its on-time submissions.

        Also takes the snapshot of the last closed round when it is missing: the operator died between the close
        and the snapshot. The resumed snapshot is the one it would have taken
        (see :func:`~oracle.operator.snapshot.take_snapshot`)."""
        self._wait_inflight()
        last_closed = self.client.cursor().last_closed
        if last_closed and self.load_snapshot(last_closed) is None:
            closed = self.client.round_state(last_closed)
            if closed.status is RoundStatus.CLOSED:
                snapshot = take_snapshot(self.store, self.inbox, last_closed, closed.closes_at)
                self.log(f"round {last_closed}: snapshot taken on resume, {len(snapshot['submissions'])} submission(s)")
        round = last_closed + 1
        state = self.client.round_state(round)
        if state.status is not RoundStatus.OPEN or self.client.now() < state.closes_at:
            return []
        if self.client.model_count() == 0:  # closed without models, it could never settle: keep it open
            return self.notices.wait(stays_open(round))
        # Anvil mines the close in a new block: that block's timestamp must be past closesAt, which it is since
        # the latest block's already is.
        receipt = self._transact(self.t.functions.closeRound(round), f"close round {round}")
        # After the close is mined nothing new can be stamped before closesAt (the chain's clock has passed it),
        # so the snapshot taken now is final.
        snapshot = take_snapshot(self.store, self.inbox, round, state.closes_at)
        self.log(f"round {round}: closed with {len(snapshot['submissions'])} submission(s)")
        self._reached("closed", round)
        return [
            Action("close", round, f"{len(snapshot['submissions'])} submissions", tx_hash(receipt), receipt["gasUsed"])
        ]

    # -------------------------------------------------------------- lapse

    def lapse_due(self) -> list[Action]:
        """Lapse, in order, every round that reached its deadline without being activated (a zero result)."""
        actions: list[Action] = []
        self._wait_inflight()
        while True:
            cursor = self.client.cursor()
            round = cursor.last_resolved + 1
            if round > cursor.last_closed:
                return actions
            state = self.client.round_state(round)
            lapsable = (RoundStatus.CLOSED, RoundStatus.PROPOSED, RoundStatus.VETOED)
            if state.status not in lapsable or self.client.now() < state.lapses_at:
                return actions
            receipt = self._transact(self.t.functions.lapseRound(round), f"lapse round {round}")
            self.log(f"round {round}: lapsed (not activated by {state.lapses_at}): a zero result for every model")
            actions.append(Action("lapse", round, f"lapsed at {state.lapses_at}", tx_hash(receipt), receipt["gasUsed"]))

    # -------------------------------------------------------------- resolve and propose

    def propose_due(self, through: int | None = None) -> list[Action]:
        """Resolve and propose the next round to resolve (if ``through`` allows) when it is closed or vetoed, its
        targets are known and a proposal made now can still be activated before the round lapses."""
        cursor = self.client.cursor()
        round = cursor.last_resolved + 1
        if round > cursor.last_closed or (through is not None and round > through):
            return []
        state = self.client.round_state(round)
        if state.status not in (RoundStatus.CLOSED, RoundStatus.VETOED):
            return []  # proposed and waiting for its window, or not closed yet
        if self.client.now() + state.challenge_period >= state.lapses_at:
            self.log(
                f"round {round}: too late to propose (the challenge window would end after the round lapses "
                f"at {state.lapses_at}); it will lapse with a zero result"
            )
            return []
        data = load_round_data(self.config.round_data, round)
        if data is None or data.targets is None:  # targets not resolved yet; later rounds build on this one
            return self.notices.wait(targets_missing(self.config, round))
        return [self.resolve_and_propose(round)]

    def round_params(self, round: int) -> RoundParams:
        return replace(self.config.params, round_number=round)

    def build_bundle(
        self,
        round: int,
        tamper: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> tuple[str, str, Any, int]:
        """Write the round's bundle; returns (manifest uri, manifest keccak, manifest, total stake at risk).

        The payouts are scaled to the round's payout limit (the free reserve once the previous round resolved:
        ``TournamentClient.round_payout_limit``, recorded in the manifest) when they would exceed it: the proposal
        then always fits the free reserve.
        ``tamper`` rewrites the scores before they are written: only the demo and tests use it, to make the
        oracle propose a wrong root that the auditor must catch."""
        state = self.client.round_state(round)
        if state.status not in (RoundStatus.CLOSED, RoundStatus.VETOED):
            raise OperatorError(f"round {round} is {state.status.name.lower()}, not closed: nothing to resolve")
        check_clip_fits_caps(
            self.round_params(round), state.payout_cap_bps, state.burn_cap_bps, f"round {round} (not resolved)"
        )
        data = load_round_data(self.config.round_data, round)
        if data is None or data.targets is None:
            raise OperatorError(targets_missing(self.config, round) or f"round {round}: its live data is missing")
        if sorted(data.targets["id"]) != data.live_ids:
            raise OperatorError(
                f"round {round}: the targets file does not list exactly the live ids "
                f"({len(data.targets)} targets, {len(data.live_ids)} live ids)"
            )
        snapshot = self.load_snapshot(round)
        if snapshot is None:
            # A crash between the close and the snapshot (or a lost store): the snapshot depends only on the inbox
            # and closesAt, so taking it now gives the one the close would have taken.
            self.log(f"round {round}: no inbox snapshot in the store, taking it now")
            snapshot = take_snapshot(self.store, self.inbox, round, state.closes_at)
        previous, previous_proposal = previous_cumulative_of(self.client, round)
        round_stakes = self.client.round_stakes(round, previous)
        stakes, owners = round_stakes.at_risk, round_stakes.owners
        # The free reserve once r-1 resolved and r closed, from events: auditors recompute it exactly.
        limit = PayoutLimit(*self.client.round_payout_limit(round))
        accepted, rejections = check_submissions(self.client, self.inbox, round, snapshot, owners)

        predictions, accepted = scored_predictions(
            accepted, rejections, data.live_ids, self.config.params.min_live_share
        )

        params = self.round_params(round)
        stake_map = {str(m): s for m, s in stakes.items()}
        result = score_round(predictions, data.targets, stake_map, params, payout_limit=limit.limit)
        if result.unscaled_payout > result.total_payout:
            self.log(f"round {round}: payouts {result.unscaled_payout} scaled to the payout limit {limit.limit}")
        scores = result.scores if tamper is None else tamper(result.scores.copy())
        stakes_df = pd.DataFrame(
            {"model": [str(m) for m in stakes], "model_id": list(stakes), "stake_at_risk": list(stakes.values())}
        )
        stored, extra = stored_submission_files(self.store, snapshot, accepted)
        extra[SUBMISSIONS_FILE] = canonical_json(
            [
                {"model_id": m, "file": submission_file_name(m, s.file_name), "record": s.to_json()}
                for m, (s, _) in accepted.items()
            ]
        )
        extra[REJECTIONS_FILE] = canonical_json(sorted(rejections, key=rejection_order))
        manifest, uri, digest = write_round_bundle(
            self.store,
            round,
            predictions=predictions,
            targets=data.targets,
            stakes=stakes_df,
            scores=scores,
            params=params,
            previous_cumulative=previous,
            chain=ChainRef(chain_id=self.client.chain_id(), contract=self.client.tournament.address),
            previous=previous_proposal.manifest_uri if previous_proposal else None,
            extra_files=extra,
            stored_files=stored,
            payout_limit=limit,
        )
        return uri, digest, manifest, sum(stakes.values())

    def resolve_and_propose(self, round: int, tamper: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Action:
        """Build (or reuse) the round's bundle and propose its root, unless the chain already has a proposal."""
        self._wait_inflight()
        if self.client.round_state(round).status in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            return Action("propose", round, "already proposed")
        uri, digest, manifest, _ = self.build_bundle(round, tamper)
        uri = published_uri(self.config, self.store, uri)  # under --public-url: anyone can open it
        self.log(f"round {round}: bundle {uri}")
        self._reached("bundled", round)
        self._wait_inflight()
        state = self.client.round_state(round)
        if state.status in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            # Proposed by an earlier run (maybe the one that crashed): never post twice.
            return Action("propose", round, "already proposed")
        totals = manifest.totals
        fn = self.t.functions.proposeRoot(
            round,
            Web3.to_bytes(hexstr=HexStr(manifest.root)),
            totals.round_payout,
            totals.round_burn,
            Web3.to_bytes(hexstr=HexStr(digest)),
            uri,
        )
        receipt = self._transact(fn, f"propose round {round}")
        self.log(
            f"round {round}: proposed root {manifest.root} (payout {totals.round_payout}, burn {totals.round_burn})"
        )
        self._reached("proposed", round)
        return Action("propose", round, manifest.root, tx_hash(receipt), receipt["gasUsed"])

    # -------------------------------------------------------------- activate

    def activate_due(self) -> list[Action]:
        """Activate the next round to resolve when it is proposed and its challenge window passed (before it
        lapses)."""
        self._wait_inflight()
        round = self.client.cursor().last_resolved + 1
        state = self.client.round_state(round)
        now = self.client.now()
        if state.status is not RoundStatus.PROPOSED or not state.activates_at <= now < state.lapses_at:
            return []
        receipt = self._transact(self.t.functions.activateRoot(round), f"activate round {round}")
        self.log(f"round {round}: root active")
        self._reached("activated", round)
        return [Action("activate", round, "", tx_hash(receipt), receipt["gasUsed"])]
