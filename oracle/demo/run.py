"""A whole tournament on a local Anvil chain: ``make demo`` (``python -m oracle.demo``).

What runs, all for real (JSON-RPC, signed transactions, encrypted V3 keystores, files on disk):

1. Anvil starts on a free port; the token and the tournament are deployed with the oracle, guardian and pauser
   roles granted; the admin funds the reward reserve.
2. A dozen participants get encrypted keystores in a temporary directory, ether and tokens; each registers a few
   models and stakes on them (half with an EIP-2612 permit, half with approve + stake).
3. Every round: the operator opens it; participants sign their prediction files (EIP-712) and deliver them to the
   inbox, with a few bad ones mixed in (a submission signed by someone who does not own the model, a late one);
   the window passes; the operator closes, scores from chain stakes and publishes the bundle, then proposes.
4. In one round the oracle proposes a wrong root (one model's payout inflated): the auditor catches it and the
   guardian vetoes it inside the challenge window; the operator re-proposes the correct bundle.
5. Rounds resolve in order, one pending proposal at a time: each root activates after its window, the next round
   is proposed, a keeper settles every model with one multiproof per round; one participant requests a
   withdrawal and takes it once the rounds it was at risk in are resolved and settled.
6. One more participant is an AI-style agent: a scripted program that acts only as an MCP client of ``tourney mcp``
   (oracle.mcp.agent), through the operator's HTTP service (run in this process): it downloads each round's live
   data, trains, validates, submits (keeping the operator's receipts), stakes within its spending limit, and at the
   end verifies, settles and takes everything back. Its tool calls are printed as they happen.
7. The end: a per-model table of stakes, payouts and burns, the auditor's verdict on every proposal, and the
   solvency check per claim: every model's stake is a real, non-negative amount, and the tokens the tournament
   holds cover every model's stake plus the reward reserve plus the burns not yet destroyed.

Time on chain moves with ``evm_increaseTime``, so the whole run takes well under two minutes on two cores.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from web3.types import RPCEndpoint

from oracle.auditor.verify import verify_all, verify_round
from oracle.bundle.fetch import FetchPolicy
from oracle.chain.anvil import start_anvil
from oracle.chain.client import TournamentClient
from oracle.chain.clock import format_time
from oracle.chain.connection import Connection
from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.demo.agent import AGENT_OWNER, DemoAgentSetup, InboxAndService, finish_agent, start_agent
from oracle.demo.data import RoundDataWorld, model_predictions
from oracle.demo.outcome import DemoResult, model_table, rejections
from oracle.demo.players import KEYSTORE_PASSWORD, Player, enroll_players
from oracle.mcp.agent import AgentThread
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.participant.settle import settle_all
from oracle.participant.stake import exit_status, request_withdrawal, withdraw
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import Submission, sign_submission
from oracle.scoring.params import RoundParams
from oracle.testing.local import local_tournament

__all__ = ["DemoConfig", "DemoResult", "run_demo", "RoundDataWorld", "model_predictions"]


@dataclass(frozen=True)
class DemoConfig:
    """Size and shape of a demo tournament."""

    participants: int = 12
    models_per_participant: int = 3
    rounds: int = 6
    bad_round: int = 3
    withdraw_round: int = 2
    live_rows: int = 8_000
    features: int = 20
    stake: int = 1_000 * UNIT
    reserve: int = 200_000 * UNIT
    submission_window: int = 3_600
    challenge_period: int = 3_600
    scrypt_n: int = 2**12
    seed: int = 7
    #: The scripted MCP agent: whether it takes part, its tokens and its server's spending limit (tokens).
    agent: bool = True
    agent_tokens: int = 500 * UNIT
    agent_max_stake: str = "300"
    agent_max_stake_per_call: str = "100"
    params: RoundParams = field(default_factory=RoundParams.numerai_default)


# ------------------------------------------------------------------------------------------ the run


class _Demo:
    def __init__(self, config: DemoConfig, workdir: Path, say: Callable[[str], None]) -> None:
        self.config, self.workdir, self.say = config, workdir, say
        self.agent: AgentThread | None = None

    # -- setup

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [int(seconds)])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def setup(self, anvil: Any, stack: ExitStack) -> None:
        c = self.config
        local = local_tournament(
            anvil, challenge_period=c.challenge_period, reserve=c.reserve, save_to=self.workdir / "deployment.json"
        )
        self.w3, self.deployment = local.w3, local.deployment
        self.admin, self.oracle, self.guardian, self.keeper = local.admin, local.oracle, local.guardian, local.keeper
        self.keeper_account = local.keeper.local_account
        self.client = TournamentClient(self.w3, self.deployment)
        # The keeper settles through the participants' code path (oracle.participant.settle.settle_all), with its
        # Sender.
        self.keeper_conn = Connection(self.w3, self.deployment, self.keeper_account, _sender=self.keeper)
        self.token, self.t = self.client.token, self.client.tournament
        self.say(f"deployed tournament {self.t.address} on {anvil.url}; reserve funded with {c.reserve // UNIT} STK")

        keystore = Keystore(self.workdir / "keystores", scrypt_n=c.scrypt_n)
        self.players = enroll_players(
            self.w3, self.admin, self.token, self.t, keystore, c.participants, c.models_per_participant, c.stake
        )
        self.say(
            f"{len(self.players)} participants with encrypted keystores in {keystore.directory}, "
            f"{sum(len(p.models) for p in self.players)} staked models"
        )

        self.data = RoundDataWorld(self.workdir / "round-data", c.live_rows, c.features, c.seed)
        self.inbox = Inbox(self.workdir / "inbox")
        # The auditor reads manifests only from where the demo's operator publishes them.
        self.fetch_policy = FetchPolicy(roots=(str(self.workdir / "store"),))
        self.operator = Operator(
            self.client,
            self.oracle,
            OperatorConfig(
                store=str(self.workdir / "store"),
                inbox=str(self.workdir / "inbox"),
                round_data=str(self.workdir / "round-data"),
                params=c.params,
                submission_window=c.submission_window,
                max_rounds=c.rounds,
            ),
            hang_at=None,
            submissions=InboxAndService(str(self.workdir / "inbox"), self.workdir / "service-state")
            if c.agent
            else None,
        )
        if c.agent:
            self.agent = start_agent(
                DemoAgentSetup(
                    workdir=self.workdir,
                    rpc=anvil.url,
                    deployment=self.deployment,
                    oracle=local.oracle.local_account,
                    keystore=keystore,
                    password=KEYSTORE_PASSWORD,
                    funder=self.admin,
                    token=self.token,
                    tokens=c.agent_tokens,
                    params=c.params,
                    max_stake=c.agent_max_stake,
                    max_stake_per_call=c.agent_max_stake_per_call,
                ),
                stack,
                self.say,
            )

    # -- a round

    def submit_all(self, round: int, live: pd.DataFrame) -> None:
        """Every model signs and delivers; one submission in the bad round is signed by a non-owner."""
        chain_id, closes_at = self.w3.eth.chain_id, self.client.round_state(round).closes_at
        for _i, player in enumerate(self.players):
            for model_id in player.models:
                data = model_predictions(live, self.data.world, model_id, round, self.config.seed)
                sub = sign_submission(
                    player.account,
                    chain_id,
                    self.t.address,
                    round,
                    model_id,
                    data,
                    closes_at,
                    file_name="predictions.csv",
                )
                self.deliver(sub, data)
        if round == 1:
            # An impostor signs for someone else's model. The inbox keeps one record per model, so it replaces
            # the owner's: the operator must refuse it, and the model goes unscored this round.
            impostor, victim = self.players[0], self.players[1]
            data = model_predictions(live, self.data.world, 999, round, self.config.seed)
            forged = sign_submission(
                impostor.account, chain_id, self.t.address, round, victim.models[0], data, closes_at
            )
            self.deliver(forged, data)

    def late_submission(self, round: int) -> None:
        """After the close, a participant re-delivers: recorded as late, the on-time file stays scored."""
        player = self.players[-1]
        data = model_predictions(self.lives[round], self.data.world, 1000, round, self.config.seed)
        closes_at = self.client.round_state(round).closes_at
        sub = sign_submission(
            player.account, self.w3.eth.chain_id, self.t.address, round, player.models[-1], data, closes_at
        )
        self.deliver(sub, data)

    def deliver(self, sub: Submission, data: bytes) -> None:
        """Put a signed submission in the inbox stamped with the chain's clock, as ``tourney submit`` and the
        service do: the operator's close snapshot judges ``received_at`` against ``closesAt`` on that clock."""
        self.inbox.put(replace(sub, received_at=self.client.now()), data)

    def run(self) -> DemoResult:
        """Drive the operator step by step; rounds overlap as in the real tournament (the next round opens as soon
        as the previous one closes, and is proposed once the previous one is active), so every chain-time jump
        moves every round one stage on."""
        c = self.config
        started = time.monotonic()
        self.vetoed: int | None = None
        self.withdrawn = 0
        self.withdrawal_after: int | None = None
        self.lives: dict[int, pd.DataFrame] = {}
        self.publish_live()
        self.report(self.operator.open_due())
        self.opened(1)
        while self.client.cursor().last_resolved < c.rounds:
            self.advance(c.submission_window + 1)
            closed = self.operator.close_due()
            self.report(closed)
            self.resolve()
            for action in closed:
                if action.round == 2:
                    self.late_submission(action.round)
                if action.round == c.bad_round:
                    self.bad_round(action.round)
            self.report(self.operator.propose_due())
            self.maybe_withdraw()
            self.publish_live()
            opened = self.operator.open_due()
            self.report(opened)
            for action in opened:
                self.opened(action.round)
        outcome = None if self.agent is None else finish_agent(self.agent, self.say)
        verdicts = verify_all(self.client, policy=self.fetch_policy)
        models = self.client.model_count()
        return DemoResult(
            rounds=c.rounds,
            vetoed_round=self.vetoed,
            verdicts=verdicts,
            models=self._model_table(),
            token_balance=self.token.functions.balanceOf(self.t.address).call(),
            stakes={m: self.client.stake_of(m) for m in range(1, models + 1)},
            reserve=self.client.reserve(),
            burn_due=self.client.burn_due(),
            token_supply=self.token.functions.totalSupply().call(),
            withdrawn=self.withdrawn,
            rejections=rejections(self.client, c.rounds),
            seconds=time.monotonic() - started,
            agent=outcome,
        )

    def resolve(self) -> None:
        """Lapse or activate the next round due, and settle every model against a newly active root."""
        self.report(self.operator.lapse_due())
        activated = self.operator.activate_due()
        self.report(activated)
        for action in activated:
            moved = len(settle_all(self.keeper_conn, action.round).settled)
            self.say(f"  keeper: settled {moved} models against round {action.round} with multiproofs")

    def report(self, actions: list) -> None:
        for action in actions:
            detail = action.detail if len(action.detail) < 40 else action.detail[:20] + "…"
            gas = f" ({action.gas:,} gas)" if action.gas else ""
            self.say(f"  operator: {action.step} round {action.round} {detail}{gas}")

    def publish_live(self) -> None:
        """Publish the next round's live data: the operator opens a round only once it is there."""
        if (round := self.client.cursor()[0] + 1) <= self.config.rounds and round not in self.lives:
            self.lives[round] = self.data.write(round)

    def opened(self, round: int) -> None:
        """A round opened: every model submits, maybe a withdrawal request."""
        self.say(f"round {round}")
        self.submit_all(round, self.lives[round])
        if self.agent is not None:
            self.agent.play_round(round)
        if round == self.config.withdraw_round:
            player, amount = self.players[2], self.config.stake // 2
            _, self.withdrawal_after, _ = request_withdrawal(self.connection(player), player.models[0], amount)
            deadline = self.client.round_state(self.withdrawal_after).lapses_at
            self.say(
                f"  {player.name} requests a withdrawal of {amount // UNIT} STK from model {player.models[0]}; "
                f"it stays at risk through round {self.withdrawal_after} and can be taken by "
                f"{format_time(deadline, self.client.now())} (chain time) at the latest"
            )

    def connection(self, player: Player) -> Connection:
        return Connection(self.w3, self.deployment, player.account, _sender=player.sender)

    def maybe_withdraw(self) -> None:
        """Withdraw (through the participant's code path) once every round the amount was at risk in is resolved."""
        if self.withdrawal_after is None or self.withdrawn:
            return
        player = self.players[2]
        conn = self.connection(player)
        pending = exit_status(conn, self.client.model_state(player.models[0]))
        if pending is None or not pending.ready:
            return
        self.withdrawn, _ = withdraw(conn, player.models[0])
        self.say(f"  {player.name} withdrew {self.withdrawn / UNIT:.4f} STK from model {player.models[0]}")

    def bad_round(self, round: int) -> None:
        """The oracle proposes an inflated payout; the auditor catches it; the guardian vetoes; honest re-proposal."""
        self.report(self.operator.propose_due(through=round - 1))  # one pending round at a time, strictly in order
        target = self.players[0].models[1]

        def inflate(scores: pd.DataFrame) -> pd.DataFrame:
            row = scores.index[scores["model"] == str(target)][0]
            scores.at[row, "payout"] = int(scores.at[row, "payout"]) + 3 * UNIT
            scores.at[row, "burn"] = 0
            return scores

        self.operator.resolve_and_propose(round, tamper=inflate)
        verdict = verify_round(self.client, round, policy=self.fetch_policy)
        self.say(
            f"  auditor: round {round} proposal {'OK' if verdict.ok else 'MISMATCH'}; models {verdict.models()}: "
            + "; ".join(f"{d.scope} {d.subject} {d.field}" for d in verdict.differences[:4])
        )
        if verdict.ok:
            raise RuntimeError("the auditor missed the inflated payout")
        self.guardian.transact(self.t.functions.vetoRoot(round), action=f"veto round {round}")
        self.say(f"  guardian: vetoed round {round} inside its challenge window")
        self.vetoed = round

    # -- reporting

    def _model_table(self) -> pd.DataFrame:
        agent_model = None if self.agent is None else self.agent.agent.model_id
        return model_table(self.client, self.players, agent_model, AGENT_OWNER)


def run_demo(
    config: DemoConfig = DemoConfig(),
    workdir: Path | None = None,
    say: Callable[[str], None] = print,
    then: Callable[[Any, Any, DemoResult], None] | None = None,
) -> DemoResult:
    """Run a whole tournament on a fresh Anvil and return the outcome; ``then(anvil, demo, result)`` runs while the
    chain and the files still exist (``make web-demo`` serves them from there, see oracle.demo.serve)."""
    with tempfile.TemporaryDirectory(prefix="tourney-demo-") as tmp:
        directory = Path(workdir or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        with start_anvil(accounts=10) as anvil, ExitStack() as stack:
            demo = _Demo(config, directory, say)
            demo.setup(anvil, stack)
            result = demo.run()
            if then is not None:
                then(anvil, demo, result)
            return result
