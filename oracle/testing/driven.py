"""A local tournament whose rounds are moved by hand, for tests that look at every state of a round through the
service: the operator's state machine is called step by step (no scheduler), the chain's clock is moved with
``evm_increaseTime``, and a service configuration on the same inbox, store and round data is ready for
:func:`oracle.testing.harness.service_thread` or FastAPI's TestClient.

Participants are Anvil's development accounts from index 4 on (0-3 hold the tournament's roles, see
:mod:`oracle.testing.local`): Anvil itself signs for them, which is what a browser wallet forwarding to Anvil needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
from eth_account import Account
from eth_account.signers.local import LocalAccount

from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.scoring.params import RoundParams
from oracle.service.config import ServiceConfig
from oracle.testing.harness import write_live, write_targets
from oracle.testing.local import LocalTournament, local_tournament
from oracle.testing.service_state import service_submissions

__all__ = ["DrivenTournament", "driven_tournament", "inflate_payout"]

#: Anvil's development accounts before this index hold roles; participants start here.
FIRST_PARTICIPANT = 4


def inflate_payout(model_id: int, extra: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A tamper for :meth:`Operator.resolve_and_propose`: the model's payout grows by ``extra`` and its burn goes,
    the kind of wrong root the auditor must catch."""

    def tamper(scores: pd.DataFrame) -> pd.DataFrame:
        row = scores.index[scores["model"] == str(model_id)][0]
        scores.at[row, "payout"] = int(scores.at[row, "payout"]) + extra
        scores.at[row, "burn"] = 0
        return scores

    return tamper


@dataclass
class DrivenTournament:
    """The chain, the operator driven by hand, the directories, and the live ids of each round opened."""

    chain: LocalTournament
    operator: Operator
    workdir: Path
    service_config: ServiceConfig
    live: dict[int, list[str]] = field(default_factory=dict)
    live_ids: int = 40

    @property
    def client(self) -> TournamentClient:
        return self.operator.client

    def participant(self, index: int, tokens: int = 10_000 * UNIT) -> LocalAccount:
        """Anvil development account ``FIRST_PARTICIPANT + index``, given ``tokens`` by the admin."""
        account = Account.from_key(dev_private_keys(FIRST_PARTICIPANT + index + 1)[-1])
        if tokens:
            self.chain.fund(account.address, tokens, ether=0)
        return account

    def open_round(self) -> int:
        """Publish the next round's live data and open it; returns the round."""
        last_closed = self.client.cursor().last_closed
        round = last_closed + 1
        self.live[round] = write_live(self.workdir / "rounds", round, self.live_ids)
        opened = self.operator.open_due()
        assert [a.round for a in opened] == [round], f"round {round} did not open: {opened}"
        return round

    def close(self, round: int) -> None:
        """Move the clock past the round's deadline and close it (the inbox snapshot is taken)."""
        closes_at = self.client.round_state(round).closes_at
        if self.chain.now() < closes_at:
            self.chain.advance(closes_at - self.chain.now() + 1)
        closed = self.operator.close_due()
        assert round in [a.round for a in closed], f"round {round} did not close: {closed}"

    def resolve(self, round: int, tamper: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> None:
        """Publish the targets, score, write the bundle and propose its root (a wrong one with ``tamper``)."""
        write_targets(self.workdir / "rounds", round, self.live[round])
        self.operator.resolve_and_propose(round, tamper=tamper)
        assert self.client.round_state(round).status is RoundStatus.PROPOSED

    def veto(self, round: int) -> None:
        self.chain.guardian.transact(self.chain.tournament.functions.vetoRoot(round), action=f"veto round {round}")

    def activate(self) -> list[int]:
        """Move the clock past every pending challenge window and activate those roots; returns the rounds."""
        self.chain.advance(self.client.round_state(self.client.cursor().last_closed).challenge_period + 1)
        return [a.round for a in self.operator.activate_due()]

    def stop(self) -> None:
        self.chain.stop()


def driven_tournament(
    workdir: Path,
    *,
    challenge_period: int = 600,
    submission_window: int = 3600,
    live_ids: int = 40,
    web_dir: str | None = None,
) -> DrivenTournament:
    """A fresh Anvil with the tournament deployed, an operator on ``workdir``'s store, inbox and round data, and the
    service configuration on the same directories (scheduler off)."""
    for name in ("rounds", "store", "inbox", "state"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    chain = local_tournament(challenge_period=challenge_period, save_to=workdir / "deployment.json")
    params = RoundParams.numerai_default()
    operator = Operator(
        TournamentClient(chain.w3, chain.deployment),
        chain.oracle,
        OperatorConfig(
            store=str(workdir / "store"),
            inbox=str(workdir / "inbox"),
            round_data=str(workdir / "rounds"),
            params=params,
            submission_window=submission_window,
        ),
        # The service receipts submissions into its database (the files go to the inbox): collect from there.
        submissions=service_submissions(workdir),
    )
    config = ServiceConfig(
        rpc=chain.url,
        deployment=chain.deployment,
        operator=chain.oracle.local_account,
        inbox=str(workdir / "inbox"),
        store=str(workdir / "store"),
        round_data=str(workdir / "rounds"),
        state=str(workdir / "state"),
        params=params,
        scheduler=False,
        web_dir=web_dir,
    )
    return DrivenTournament(chain, operator, workdir, config, live_ids=live_ids)
