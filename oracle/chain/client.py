"""Reading the tournament: events in bounded block ranges, round and model state, and the stake-at-risk replay.

Everything the operator and the auditor decide is derived here from the chain alone, so two parties reading
the same chain reach the same answer:

* events come from ``eth_getLogs`` in bounded block ranges or from a followed event log
  (:mod:`oracle.chain.tournament_events`, the client's base class);
* a round's model set and stakes at risk are replayed from the ledger events up to and including the round's
  ``RoundClosed`` log (:mod:`oracle.chain.replay` states the rule);
* round status, schedule and caps from ``roundInfo``; model states from ``modelState`` or ``modelStates`` (paged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from eth_utils import keccak
from web3 import Web3
from web3.types import BlockIdentifier

from oracle.chain.events import ChainEvent
from oracle.chain.replay import LEDGER_EVENTS, RoundStakes, round_stakes
from oracle.chain.state import (
    Cursor,
    HardLimits,
    ModelInfo,
    ModelState,
    Proposal,
    RoundState,
    RoundStatus,
    hex32,
)
from oracle.chain.tournament_events import DEFAULT_CHUNK, TournamentEvents

__all__ = [
    "DEFAULT_CHUNK",
    "MODEL_STATES_PAGE",
    "ChainEvent",
    "Cursor",
    "HardLimits",
    "ModelInfo",
    "ModelState",
    "Proposal",
    "RoundStakes",
    "RoundState",
    "RoundStatus",
    "TournamentClient",
]

#: Models per ``modelStates`` call: one RPC read per 100 models.
MODEL_STATES_PAGE = 100


@dataclass
class TournamentClient(TournamentEvents):
    """Read access to one deployed tournament over JSON-RPC: state, events (:class:`TournamentEvents`), the replay."""

    # -------------------------------------------------------------- plain reads

    def now(self) -> int:
        """The latest block's timestamp: the clock the contract checks windows against."""
        return int(self._rpc("latest block", lambda: self.w3.eth.get_block("latest"))["timestamp"])

    def cursor(self) -> Cursor:
        """(last closed, last resolved, last active) round."""
        closed, resolved, active = self._rpc("roundCursor", self.tournament.functions.roundCursor().call)
        return Cursor(int(closed), int(resolved), int(active))

    def round_state(self, round: int, block: BlockIdentifier = "latest") -> RoundState:
        info = self._rpc(
            f"roundInfo({round})", lambda: self.tournament.functions.roundInfo(round).call(block_identifier=block)
        )
        (
            status,
            closes_at,
            closed_at,
            activates_at,
            lapses_at,
            period,
            payout_cap,
            burn_cap,
            payout_total,
            root,
            last_active,
        ) = info
        return RoundState(
            round=round,
            status=RoundStatus(int(status)),
            closes_at=int(closes_at),
            closed_at=int(closed_at),
            activates_at=int(activates_at),
            lapses_at=int(lapses_at),
            challenge_period=int(period),
            payout_cap_bps=int(payout_cap),
            burn_cap_bps=int(burn_cap),
            payout_total=int(payout_total),
            root=hex32(root),
            last_active_at_or_before=int(last_active),
        )

    def open_round(self) -> int | None:
        """The round open for submissions right now, if any (at most one: round = last closed + 1)."""
        state = self.round_state(self.cursor().last_closed + 1)
        return state.round if state.status is RoundStatus.OPEN else None

    def next_to_resolve(self) -> int:
        """The round that resolves next (rounds resolve strictly in order): last resolved + 1."""
        return self.cursor().last_resolved + 1

    def model_count(self) -> int:
        return int(self._rpc("modelCount", self.tournament.functions.modelCount().call))

    def model_state(self, model_id: int, block: BlockIdentifier = "latest") -> ModelState:
        """A model's on-chain state (zero owner for an id never registered: see :attr:`ModelState.registered`)."""
        raw = self._rpc(
            f"modelState({model_id})",
            lambda: self.tournament.functions.modelState(int(model_id)).call(block_identifier=block),
        )
        return ModelState.of(model_id, raw)

    def model_info(self, model_id: int) -> ModelState:
        """:meth:`model_state` (the name the participant code uses)."""
        return self.model_state(model_id)

    def model_states(
        self, model_ids: Sequence[int] | None = None, page: int = MODEL_STATES_PAGE, block: BlockIdentifier = "latest"
    ) -> dict[int, ModelState]:
        """States of many models with ``modelStates``, one call per ``page`` contiguous ids, all at ``block``: every
        registered model when ``model_ids`` is None, else the given ids (unknown ids are left out)."""
        if model_ids is None:
            wanted = list(range(1, self.model_count() + 1))
        else:
            wanted = sorted({int(m) for m in model_ids if int(m) > 0})
        out: dict[int, ModelState] = {}
        i = 0
        while i < len(wanted):
            first = wanted[i]
            # One call covers the ids in [first, first + page): contiguous ids cost one read per page.
            raw = self._rpc(
                f"modelStates({first}, {page})",
                lambda f=first: self.tournament.functions.modelStates(f, page).call(block_identifier=block),
            )
            for offset, item in enumerate(raw):
                out[first + offset] = ModelState.of(first + offset, item)
            while i < len(wanted) and wanted[i] < first + page:
                i += 1
        return {m: out[m] for m in wanted if m in out}

    def owner_of(self, model_id: int) -> str | None:
        """The owner of a model, or None for an id never registered."""
        state = self.model_state(model_id)
        return state.owner if state.registered else None

    def settled_round(self, model_id: int) -> int:
        """The round a model is settled through on-chain."""
        return self.model_state(model_id).settled_round

    def stake_of(self, model_id: int) -> int:
        return int(self._rpc(f"stakeOf({model_id})", self.tournament.functions.stakeOf(model_id).call))

    def reserve(self) -> int:
        """The reward reserve (committed or free)."""
        return int(self._rpc("reserve", self.tournament.functions.reserve().call))

    def free_reserve(self, block: BlockIdentifier = "latest") -> int:
        """The part of the reserve no activated round has committed: what the oracle scales its payouts to."""
        return int(
            self._rpc("freeReserve", lambda: self.tournament.functions.freeReserve().call(block_identifier=block))
        )

    def round_payout_limit(self, round: int) -> tuple[int, int]:
        """(limit, block): the free reserve a round's payouts are scaled to, as the events show it at ``block``.

        ``block`` is the later of the round's ``RoundClosed`` and the previous round's resolution (``RootActivated``
        or ``RoundLapsed``): from then until the round's own activation the free reserve only grows (funding adds
        to it, settlements leave it as is, and no other round can be activated in between), so a round declaring at
        most ``limit`` is never refused for lack of reserve. ``limit`` is every ``ReserveFunded`` amount minus every
        ``RootActivated.payoutTotal`` up to that block: the contract's ``freeReserve()`` then, except that a
        settlement clamped below its committed payout (only a bad root causes one) frees more than the events
        show, so the limit is never above the real free reserve. The round's cap of the staked pool (the other
        half of ``payoutLimit``) never binds an honest round: its stakes at risk are all in the pool.

        Deterministic from events alone: the operator and every auditor compute the same pair on any node."""
        close = self.close_event(round)
        if close is None:
            raise ValueError(f"round {round} is not closed on-chain: its payout limit is not fixed yet")
        block = close.block
        if round > 1:
            resolved = [e for name in ("RootActivated", "RoundLapsed") for e in self.round_events(name, round - 1)]
            if not resolved:
                raise ValueError(f"round {round - 1} is not resolved: round {round}'s payout limit is not fixed yet")
            block = max(block, min(e.block for e in resolved))
        funded = sum(int(e.args["amount"]) for e in self.events(["ReserveFunded"], to_block=block))
        committed = sum(int(e.args["payoutTotal"]) for e in self.events(["RootActivated"], to_block=block))
        return max(0, funded - committed), block

    def payout_limit(self, round: int, block: BlockIdentifier = "latest") -> int:
        """``payoutLimit(round)``: the most a proposal of the round may declare (the free reserve, and the round's
        payout cap of the staked pool)."""
        return int(
            self._rpc(
                f"payoutLimit({round})",
                lambda: self.tournament.functions.payoutLimit(round).call(block_identifier=block),
            )
        )

    def committed_payout(self) -> int:
        return int(self._rpc("committedPayout", self.tournament.functions.committedPayout().call))

    def burn_due(self) -> int:
        return int(self._rpc("burnDue", self.tournament.functions.burnDue().call))

    def exit_bound(self) -> int:
        """D in seconds: a withdrawal requested at t can be completed by t + D whatever any key does."""
        return int(self._rpc("exitBound", self.tournament.functions.exitBound().call))

    def hard_limits(self) -> HardLimits:
        """The immutable limits, one call each (read rarely: at start-up or for ``status``)."""
        f = self.tournament.functions
        names = (
            "MIN_STAKE",
            "MIN_ROUND_LENGTH",
            "MAX_ROUND_LENGTH",
            "MIN_CLOSE_SPACING",
            "MIN_CHALLENGE_PERIOD",
            "MAX_PAYOUT_CAP_BPS",
            "MAX_BURN_CAP_BPS",
            "LAPSE_PERIOD",
            "MAX_PAUSE",
            "PAUSE_COOLDOWN",
            "ADMIN_DELAY",
        )
        values = [int(self._rpc(name, getattr(f, name)().call)) for name in names]
        return HardLimits(*values)

    def paused(self) -> bool:
        return bool(self._rpc("paused", self.tournament.functions.paused().call))

    def chain_id(self) -> int:
        return int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))

    def total_supply(self, block: BlockIdentifier = "latest") -> int:
        return int(self._rpc("totalSupply", lambda: self.token.functions.totalSupply().call(block_identifier=block)))

    def bounds(self) -> tuple[int, int, int]:
        """The bounds the next round opens with: (challenge period, payout cap bps, burn cap bps)."""
        period, payout_cap, burn_cap = self._rpc("bounds", self.tournament.functions.bounds().call)
        return int(period), int(payout_cap), int(burn_cap)

    # -------------------------------------------------------------- proposals

    def standing_proposal(self, round: int) -> tuple[RoundState, Proposal | None]:
        """The round's state and the proposal standing for it (pending or active), or None when there is none
        (never proposed, or vetoed and not proposed again): the one reading of "the round's proposal" for
        participants, operator, auditor and service."""
        state = self.round_state(round)
        if state.status not in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            return state, None
        found = self.proposals(round)
        return state, (found[-1] if found else None)

    def current_proposal(self, round: int) -> Proposal | None:
        """The proposal standing for a round (see :meth:`standing_proposal`)."""
        return self.standing_proposal(round)[1]

    # -------------------------------------------------------------- roles

    def role_holders(self, role: str) -> list[str]:
        """Current holders of ``role`` (e.g. ``"ORACLE_ROLE"``), from the chain alone, in order of first grant.

        The contract is plain AccessControl (not enumerable), so holders are replayed from ``RoleGranted`` and
        ``RoleRevoked`` and then confirmed with ``hasRole``; the deployment file's ``roles`` only name extra
        candidates to confirm (a grant made before the deployment's recorded block would not be in the scan)."""
        role_id = keccak(text=role)
        candidates: dict[str, None] = {}
        for event in self.events(["RoleGranted", "RoleRevoked"]):
            if bytes(event.args["role"]) == role_id:
                candidates.setdefault(Web3.to_checksum_address(event.args["account"]), None)
        for holder in self.deployment.roles.get(role, []):
            candidates.setdefault(Web3.to_checksum_address(holder), None)
        has_role = self.tournament.functions.hasRole
        return [a for a in candidates if self._rpc(f"hasRole({role}, {a})", has_role(role_id, a).call)]

    def oracle_address(self) -> str:
        """The tournament's oracle: the one current ORACLE_ROLE holder, whose key must sign operator receipts.

        Read from the chain, never from the service, so a service cannot vouch for its own receipts."""
        holders = self.role_holders("ORACLE_ROLE")
        if len(holders) != 1:
            raise ValueError(
                f"the tournament {self.tournament.address} has {len(holders)} ORACLE_ROLE holder(s) "
                f"({', '.join(holders) or 'none'}): cannot tell which one signs receipts"
            )
        return holders[0]

    # -------------------------------------------------------------- the replay

    def ledger_events_through_close(self, round: int) -> list[ChainEvent]:
        """The ledger events (:data:`LEDGER_EVENTS`) up to and including the round's ``RoundClosed`` log."""
        close = self.close_event(round)
        if close is None:
            raise ValueError(f"round {round} is not closed on-chain: its stakes at risk are not fixed yet")
        events = self.events(list(LEDGER_EVENTS), to_block=close.block)
        return [e for e in events if e.position <= close.position]

    def round_stakes(self, round: int, previous_cumulative: Mapping[int, tuple[int, int]]) -> RoundStakes:
        """The round's stakes (at risk, at the close, owners), replayed from the chain: see
        :mod:`oracle.chain.replay`."""
        return round_stakes(self.ledger_events_through_close(round), previous_cumulative)

    def stakes_at_risk(
        self, round: int, previous_cumulative: Mapping[int, tuple[int, int]]
    ) -> tuple[dict[int, int], dict[int, str]]:
        """(stake at risk per model with a leaf in the round, owner per model registered before the close)."""
        stakes = self.round_stakes(round, previous_cumulative)
        return stakes.at_risk, stakes.owners
