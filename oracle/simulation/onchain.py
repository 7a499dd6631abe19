"""The simulation's on-chain back end: the real contracts on a local Anvil hold the money.

:class:`OnChainLedger` implements ``engine.SettlementBackend`` with real transactions only:

* setup: Anvil starts on a free port, the token and the tournament are deployed (``oracle.chain.deploy``)
  with the oracle, guardian and pauser roles, the admin funds the reward reserve, and every owner (one
  account per participant kind in the CLI: ``linear``, ``gbt``, …, ``spam``) gets ether and tokens and
  registers its models, in model-id order, so the contract's ids are the simulation's ids;
* ``stake`` is ``stakeWithPermit`` from the owner's account (``oracle.participant.stake``);
* ``withdraw`` is ``requestWithdrawal`` then ``withdraw`` from the owner's account. The engine only
  withdraws once every earlier round is settled for the model, so the request is payable at once;
* ``stakes_at_risk`` opens the round (if needed), moves the chain's clock past its window with
  ``evm_increaseTime``, closes it, and replays the stakes at risk from the chain's events with
  ``TournamentClient.stakes_at_risk`` — the operator's and the auditor's rule, not a copy of it;
* ``settle_round`` publishes the round's full bundle with the operator's code (``oracle.simulation.publish``:
  predictions signed by each model's owner, targets, stakes at risk, scores, parameters, the cumulative
  settlement tree, linked to the previous round's manifest) in the artifact store under the ledger's
  directory, checks that its root is the tree of the amounts being settled, proposes that root with the
  manifest's URI and keccak and the round's payout and burn totals, moves the clock past the challenge window,
  activates the root, and settles every model with ``settleBatch`` multiproofs (256 contiguous ids per
  transaction);
* ``balances`` reads ``stakeOf`` for every model from the chain.

The directory also gets ``deployment.json`` (with the chain's RPC URL), so while the ledger is open
``tourney verify --all --deployment DIR/deployment.json --allow-root DIR`` audits every simulated round as it
would a real one; :meth:`OnChainLedger.audit` does the same through the auditor's API.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import keccak
from web3 import Web3
from web3.types import RPCEndpoint

from oracle.auditor.verify import Verdict, verify_all
from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.manifest import ChainRef, Manifest
from oracle.bundle.store import ArtifactStore
from oracle.chain.anvil import Anvil, dev_private_keys, start_anvil
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.connection import Connection
from oracle.chain.deploy import UNIT, Deployment, DeployParams, deploy
from oracle.chain.tx import Sender
from oracle.participant.models import register_model
from oracle.participant.settle import BATCH_SIZE
from oracle.participant.stake import request_withdrawal
from oracle.participant.stake import stake as stake_with_permit
from oracle.participant.stake import withdraw as take_withdrawal
from oracle.settlement.leaves import cumulative_leaves, multiproof_for, settlement_tree, totals
from oracle.simulation.publish import RoundEvidence, publish_round, signed_submissions

__all__ = ["ChainRound", "OnChainLedger"]

#: Seconds a round stays open for submissions (the simulation has none on chain; the clock jumps past it).
SUBMISSION_WINDOW = 3_600
#: Ether each owner gets for gas (Anvil's base fee is zero, so this is plenty).
OWNER_ETHER = 10 * 10**18


@dataclass(frozen=True)
class ChainRound:
    """A settled round: root and committed payout as the chain recorded them (``roundInfo`` after activation),
    the tree's cumulative totals and the stake at risk of the round (replayed from the chain)."""

    round: int
    root: str
    payout_total: int
    cumulative_payout: int
    cumulative_burn: int
    total_stake_at_risk: int
    manifest_uri: str


def _cap_bps(clip: float) -> int:
    """The contract's payout cap for a per-model clip: a round moves at most clip × stake at risk in each
    direction, so caps of ceil(clip) in basis points never refuse an honest round."""
    return min(10_000, math.ceil(clip * 10_000))


def _deploy_params(clip: float, challenge_period: int) -> DeployParams:
    """Local-chain limits with the clip's caps. A burn cap stays below 100% (the contract never burns a whole
    stake in one round), and the simulation's policies may restake any amount (no minimum first stake)."""
    payout_cap = _cap_bps(clip)
    burn_cap = min(9_999, payout_cap)
    return DeployParams(
        challenge_period=challenge_period,
        payout_cap_bps=payout_cap,
        burn_cap_bps=burn_cap,
        max_payout_cap_bps=max(payout_cap, 2_000),
        max_burn_cap_bps=max(burn_cap, 2_000),
        min_stake=1,
    )


def _owner_key(name: str, salt: str) -> LocalAccount:
    # Deterministic local keys (the same run gets the same addresses); worthless off this throwaway chain.
    return Account.from_key(keccak(text=f"tourney-simulation:{salt}:{name}"))


@dataclass
class OnChainLedger:
    """Balances held by the Tournament contract on a local Anvil; see the module docstring.

    Build it with :meth:`start` and stop the chain with :meth:`close` (or use it as a context manager).
    """

    w3: Web3
    deployment: Deployment
    admin: Sender
    oracle: Sender
    keeper: Sender
    owners: dict[int, LocalAccount]
    #: The artifact store's root: ``objects/`` and ``rounds/<r>/manifest-*.json``, and ``deployment.json``.
    directory: Path
    challenge_period: int
    anvil: Anvil | None = None
    rounds: dict[int, ChainRound] = field(default_factory=dict)
    gas: dict[str, int] = field(default_factory=dict)
    _cumulative: dict[int, tuple[int, int]] = field(default_factory=dict)
    _at_risk: dict[int, dict[int, int]] = field(default_factory=dict)
    _last_manifest: str | None = None

    # ---------------------------------------------------------------- setup

    @classmethod
    def start(
        cls,
        owners: Mapping[int, str],
        directory: str | Path,
        clip: float = 0.05,
        reserve: int = 1_000_000 * UNIT,
        owner_tokens: int = 100_000 * UNIT,
        challenge_period: int = 3_600,
    ) -> "OnChainLedger":
        """Start Anvil, deploy, fund the reserve, fund each owner and register every model.

        ``owners`` maps each model id to its owner's name; ids must be exactly 1..n (the contract numbers
        models consecutively from 1, and the simulation's ids must be the chain's). ``clip`` sets the
        contract's per-round payout and burn caps (see :func:`_cap_bps`). Bundles and ``deployment.json`` go
        under ``directory``.
        """
        ids = sorted(owners)
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"model ids must be 1..{len(ids)} to match the contract's numbering, got {ids[:10]}…")
        anvil = start_anvil(accounts=4)
        try:
            w3 = anvil.web3()
            admin, oracle, guardian, keeper = (Sender(w3, Account.from_key(k)) for k in dev_private_keys(4))
            deployment = deploy(
                admin,
                _deploy_params(clip, challenge_period),
                oracle=oracle.address,
                guardian=guardian.address,
                pauser=admin.address,
            )
            deployment = replace(deployment, rpc=anvil.url)
            directory = Path(directory).resolve()
            deployment.save(directory / "deployment.json")
            token, tournament = deployment.token_contract(w3), deployment.tournament_contract(w3)
            admin.transact(token.functions.approve(tournament.address, reserve), action="approve reserve")
            admin.transact(tournament.functions.fundReserve(reserve), action="fund reserve")
            salt = deployment.tournament
            accounts = {name: _owner_key(name, salt) for name in sorted(set(owners.values()))}
            for name, account in accounts.items():
                admin.send_ether(account.address, OWNER_ETHER)
                admin.transact(token.functions.transfer(account.address, owner_tokens), action=f"tokens for {name}")
            ledger = cls(
                w3,
                deployment,
                admin,
                oracle,
                keeper,
                {m: accounts[owners[m]] for m in ids},
                directory,
                challenge_period,
                anvil,
            )
            for model_id in ids:
                registered, _ = register_model(ledger._conn(model_id))
                if registered != model_id:
                    raise RuntimeError(f"registered model {registered}, expected {model_id}: ids out of step")
            return ledger
        except BaseException:
            anvil.stop()
            raise

    def close(self) -> None:
        """Stop the chain this ledger started (if it started one)."""
        if self.anvil is not None:
            self.anvil.stop()
            self.anvil = None

    def __enter__(self) -> "OnChainLedger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> TournamentClient:
        return TournamentClient(self.w3, self.deployment)

    def _conn(self, model_id: int) -> Connection:
        """The model owner's connection (its own account signs its stakes and withdrawals)."""
        return Connection(self.w3, self.deployment, self.owners[model_id])

    def _advance(self, seconds: int) -> None:
        self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [int(seconds)])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def _gas(self, step: str, receipt: Mapping) -> None:
        self.gas[step] = self.gas.get(step, 0) + int(receipt["gasUsed"])

    # ---------------------------------------------------------------- SettlementBackend

    def stake(self, model_id: int, amount: int) -> None:
        """``stakeWithPermit`` from the model's owner: counts from the next round that closes."""
        if amount <= 0:
            raise ValueError(f"model {model_id}: stake must be positive, got {amount}")
        self._gas("stake", stake_with_permit(self._conn(model_id), model_id, amount))

    def withdraw(self, model_id: int, amount: int) -> None:
        """``requestWithdrawal`` then ``withdraw``; every earlier round is settled, so it pays at once."""
        conn = self._conn(model_id)
        pending, after_round, receipt = request_withdrawal(conn, model_id, amount)
        self._gas("request_withdrawal", receipt)
        if pending != amount:
            raise RuntimeError(
                f"model {model_id}: {pending} pending after requesting {amount}: an earlier request lingers"
            )
        paid, receipt = take_withdrawal(conn, model_id)
        self._gas("withdraw", receipt)
        if paid != amount:
            raise RuntimeError(
                f"model {model_id}: withdrew {paid} of {amount} requested (settled through round {after_round}?)"
            )

    def stakes_at_risk(self) -> dict[int, int]:
        """Open (if needed) and close the next round on chain; the stakes at risk replayed from its events."""
        client = self.client
        round = client.cursor().last_closed + 1
        t = client.tournament.functions
        if client.round_state(round).status is RoundStatus.NONE:
            self._gas(
                "open",
                self.oracle.transact(t.openRound(client.now() + SUBMISSION_WINDOW), action=f"open round {round}"),
            )
        self._advance(SUBMISSION_WINDOW + 1)
        self._gas("close", self.oracle.transact(t.closeRound(round), action=f"close round {round}"))
        at_risk, _ = client.stakes_at_risk(round, self._cumulative)
        self._at_risk[round] = at_risk
        return dict(at_risk)

    def settle_round(
        self,
        round_number: int,
        payouts: Mapping[int, int],
        burns: Mapping[int, int],
        evidence: RoundEvidence | None = None,
    ) -> None:
        """Publish the round's bundle, propose its root, activate it after the challenge window, settle every model."""
        at_risk = self._at_risk.get(round_number)
        if at_risk is None:
            raise RuntimeError(f"round {round_number} was not closed through this ledger (stakes_at_risk first)")
        if evidence is None:
            raise ValueError(
                f"round {round_number}: the on-chain back end publishes every round's full bundle and "
                "needs what the amounts were computed from (RoundEvidence: predictions, targets, "
                "params, scores)"
            )
        leaves = cumulative_leaves(self._cumulative, payouts, burns, set(at_risk) | set(self._cumulative))
        tree = settlement_tree(leaves)
        cumulative_payout, cumulative_burn = totals(leaves)
        total_at_risk = sum(at_risk.values())
        manifest, uri, digest = self._publish(round_number, evidence, at_risk)
        if manifest.root.lower() != tree.root.lower() or (manifest.totals.round_payout, manifest.totals.round_burn) != (
            sum(payouts.values()),
            sum(burns.values()),
        ):
            raise RuntimeError(
                f"round {round_number}: the published scores do not give the amounts being settled "
                f"(bundle root {manifest.root}, tree of the amounts {tree.root})"
            )
        t = self.client.tournament.functions
        self._gas(
            "propose",
            self.oracle.transact(
                t.proposeRoot(
                    round_number,
                    Web3.to_bytes(hexstr=HexStr(tree.root)),
                    sum(payouts.values()),
                    sum(burns.values()),
                    Web3.to_bytes(hexstr=HexStr(digest)),
                    uri,
                ),
                action=f"propose round {round_number}",
            ),
        )
        self._last_manifest = uri
        self._advance(self.challenge_period + 1)
        # Activation is permissionless: a keeper does it, as anyone could.
        self._gas(
            "activate", self.keeper.transact(t.activateRoot(round_number), action=f"activate round {round_number}")
        )
        ids = [leaf.model_id for leaf in leaves]
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            proof = multiproof_for(tree, chunk)
            self._gas(
                "settle",
                self.keeper.transact(
                    t.settleBatch(
                        round_number, [leaf.as_tuple() for leaf in proof.leaves], proof.proof, proof.proof_flags
                    ),
                    action=f"settle round {round_number} models {chunk[0]}..{chunk[-1]}",
                ),
            )
        self._cumulative = {leaf.model_id: (leaf.cumulative_payout, leaf.cumulative_burn) for leaf in leaves}
        state = self.client.round_state(round_number)
        if state.status is not RoundStatus.ACTIVE or state.root.lower() != tree.root.lower():
            raise RuntimeError(f"round {round_number}: chain says {state.status.name} with root {state.root}")
        self.rounds[round_number] = ChainRound(
            round_number, state.root, state.payout_total, cumulative_payout, cumulative_burn, total_at_risk, uri
        )

    def balances(self) -> dict[int, int]:
        """``stakeOf`` of every model, read from the chain (every active round is settled by then)."""
        client = self.client
        return {m: client.stake_of(m) for m in sorted(self.owners)}

    # ---------------------------------------------------------------- extras

    def _publish(
        self,
        round_number: int,
        evidence: RoundEvidence,
        at_risk: Mapping[int, int],
    ) -> tuple[Manifest, str, str]:
        """Write the round's full bundle (signed submissions included) to the store; (manifest, URI, keccak)."""
        client = self.client
        closes_at = client.round_state(round_number).closes_at
        chain_id, tournament = client.chain_id(), client.tournament.address
        # Every simulated participant delivers its file as the round opens (the window is SUBMISSION_WINDOW long).
        submissions = signed_submissions(
            evidence.predictions,
            self.owners,
            chain_id=chain_id,
            tournament=tournament,
            round=round_number,
            closes_at=closes_at,
            received_at=closes_at - SUBMISSION_WINDOW,
        )
        return publish_round(
            ArtifactStore(str(self.directory)),
            round_number,
            evidence,
            at_risk,
            self._cumulative,
            self._last_manifest,
            ChainRef(chain_id=chain_id, contract=tournament),
            submissions,
        )

    @property
    def deployment_file(self) -> Path:
        """``deployment.json`` of this chain (with its RPC URL): what ``tourney verify --deployment`` reads."""
        return self.directory / "deployment.json"

    def audit(self) -> list[Verdict]:
        """Every proposal on this chain audited from its published bundle and the chain alone, as
        ``tourney verify --all --allow-root DIR`` does (manifests read only from this ledger's directory)."""
        client = self.client
        client.follow()
        client.sync_events()
        return verify_all(client, policy=FetchPolicy(roots=(str(self.directory),)))

    def conserved(self) -> bool:
        """Per-claim solvency: every model's stake is a real amount (within the supply) and the tokens the
        tournament holds are exactly every stake plus the reward reserve plus the burns not yet destroyed."""
        t = self.client
        held = t.token.functions.balanceOf(t.tournament.address).call()
        supply = t.token.functions.totalSupply().call()
        stakes = [t.stake_of(m) for m in range(1, t.model_count() + 1)]
        return all(0 <= s <= supply for s in stakes) and held == sum(stakes) + t.reserve() + t.burn_due()
