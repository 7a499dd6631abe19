# size: one idea, the multi-round loop and the SimulationResult it fills (464 lines); the result's accessors are read
# by the claims, the sweep and the report together, and splitting them from the loop would only scatter the state.
"""Multi-round tournament simulation through the real scoring and settlement code.

A simulation has two halves, so a parameter sweep can replay the second without redoing the first:

1. ``prepare``: generate the data (Parquet), train every participant on the history, and for each
   round write the live features, the participants' submissions and the targets as Parquet.
   Nothing here depends on the payout rules (models do not look at their balances).
2. ``settle``: for each round, apply the stake policies, close the round (stake at risk), score the
   submissions with ``oracle.scoring.score_round`` under the round's ``RoundParams`` and settle the
   resulting payouts and burns on a :class:`SettlementBackend`.

Back ends
---------
A back end holds the money. :class:`OffChainLedger` keeps integer balances in memory and carries
the cumulative settlement leaves with ``oracle.settlement`` exactly as the oracle does.
``oracle.simulation.onchain.OnChainLedger`` (the contracts on a local Anvil) implements the same
:class:`SettlementBackend` protocol; given the same seed, both end with identical balances, roots
and totals (``tests/e2e/test_simulation_onchain.py``). Both follow the chain's stake-at-risk rule:
every model in the round, at max(0, settled stake − pending withdrawal) at the close. The engine hands
each round's :class:`RoundEvidence` (predictions, targets, parameters, scores) to ``settle_round``; the
on-chain back end publishes it as the round's full bundle, so ``tourney verify --all`` audits every round.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from oracle.scoring.metrics import score_matrix
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round
from oracle.settlement.leaves import cumulative_leaves, settlement_tree, totals
from oracle.simulation.data import TournamentSpec, World, read_parquet, write_history, write_live_round
from oracle.simulation.participants import TOKEN, Crowd, Participant, default_population, rank_submission
from oracle.simulation.publish import RoundEvidence

__all__ = [
    "OffChainLedger",
    "PREDICT_BLOCK",
    "PreparedTournament",
    "RoundEvidence",
    "SettlementBackend",
    "SimulationResult",
    "default_params",
    "prepare",
    "run_simulation",
    "settle",
]


@runtime_checkable
class SettlementBackend(Protocol):
    """Where stakes live. Amounts are ints in the token's smallest unit; model ids are ints > 0.

    Order within a round, as the engine calls it: ``stake``/``withdraw`` for each policy change,
    then ``stakes_at_risk`` (the round closes), then ``settle_round`` with that round's payouts
    and burns. ``withdraw`` is only ever called for at most the model's settled balance, and all
    earlier rounds are settled by then, so a back end may pay it out at once.
    """

    def stake(self, model_id: int, amount: int) -> None:
        """Add ``amount`` (> 0) to the model's stake; it is at risk from the next round that closes."""

    def withdraw(self, model_id: int, amount: int) -> None:
        """Take ``amount`` (> 0, ≤ balance) out of the model's stake."""

    def stakes_at_risk(self) -> dict[int, int]:
        """Close the current round: each model's amount at risk in it."""

    def settle_round(
        self,
        round_number: int,
        payouts: Mapping[int, int],
        burns: Mapping[int, int],
        evidence: RoundEvidence | None = None,
    ) -> None:
        """Apply the round's per-model payouts and burns (each ≥ 0, at most one nonzero per model). ``evidence``
        is what they were computed from (the engine always passes it): a back end that publishes rounds writes it."""

    def balances(self) -> dict[int, int]:
        """Each model's stake after everything settled so far."""


@dataclass
class OffChainLedger:
    """In-memory balances, settled through the same cumulative leaves the chain would verify.

    Invariant, checked after every round: balance = deposits − withdrawals + Σpayout − Σburn for every
    model, and the leaves' totals equal the sums of every round's payouts and burns.
    ``build_roots`` also computes each round's Merkle root (for comparison with a chain).
    """

    build_roots: bool = False
    _balances: dict[int, int] = field(default_factory=dict)
    _net_deposits: dict[int, int] = field(default_factory=dict)
    _cumulative: dict[int, tuple[int, int]] = field(default_factory=dict)
    _paid: int = 0
    _burned: int = 0
    #: The models of the round being settled (set by :meth:`stakes_at_risk`).
    _in_round: set[int] | None = None
    roots: dict[int, str] = field(default_factory=dict)
    #: With ``build_roots``: (Σ cumulative payout, Σ cumulative burn) of each round's tree, as proposed on chain.
    round_totals: dict[int, tuple[int, int]] = field(default_factory=dict)

    def stake(self, model_id: int, amount: int) -> None:
        if amount <= 0:
            raise ValueError(f"model {model_id}: stake must be positive, got {amount}")
        self._balances[model_id] = self._balances.get(model_id, 0) + amount
        self._net_deposits[model_id] = self._net_deposits.get(model_id, 0) + amount

    def withdraw(self, model_id: int, amount: int) -> None:
        balance = self._balances.get(model_id, 0)
        if not 0 < amount <= balance:
            raise ValueError(f"model {model_id}: cannot withdraw {amount} from {balance}")
        self._balances[model_id] = balance - amount
        self._net_deposits[model_id] -= amount

    def stakes_at_risk(self) -> dict[int, int]:
        """The chain's rule (``oracle.chain.replay``): a model is in the round when it has a leaf already
        or a positive stake, at max(0, deposits − withdrawals + Σpayout − Σburn of all earlier rounds − pending
        withdrawal). Withdrawals here are paid at once, so nothing is pending. A model with a leaf whose stake
        fell to 0 stays in with 0 at risk (leaves are carried forever); one that never had a leaf and has no
        stake stays out of the tree, as on chain (L-8).
        """
        self._in_round = {m for m, b in self._balances.items() if b > 0 or m in self._cumulative}
        return {m: max(0, b) for m, b in sorted(self._balances.items()) if m in self._in_round}

    def settle_round(
        self,
        round_number: int,
        payouts: Mapping[int, int],
        burns: Mapping[int, int],
        evidence: RoundEvidence | None = None,
    ) -> None:
        ids = set(self._balances) if self._in_round is None else set(self._cumulative) | self._in_round
        leaves = cumulative_leaves(self._cumulative, payouts, burns, ids)
        for leaf in leaves:
            self._cumulative[leaf.model_id] = (leaf.cumulative_payout, leaf.cumulative_burn)
        self._paid += sum(payouts.values())
        self._burned += sum(burns.values())
        if totals(leaves) != (self._paid, self._burned):
            raise AssertionError(f"round {round_number}: leaf totals {totals(leaves)} != settled sums")
        for model_id in set(payouts) | set(burns):
            self._balances[model_id] += payouts.get(model_id, 0) - burns.get(model_id, 0)
            if self._balances[model_id] < 0:
                raise AssertionError(f"round {round_number}: model {model_id} burned below zero")
        if self.build_roots:
            self.roots[round_number] = settlement_tree(leaves).root
            self.round_totals[round_number] = (self._paid, self._burned)

    def balances(self) -> dict[int, int]:
        return dict(self._balances)

    def cumulative(self) -> dict[int, tuple[int, int]]:
        """(Σpayout, Σburn) per model over every settled round: the leaves' values."""
        return dict(self._cumulative)


def default_params(payout_threshold: int = 10**9 * TOKEN) -> RoundParams:
    """The project's one Numerai default (``RoundParams.numerai_default``) with the simulation's threshold."""
    return RoundParams.numerai_default(payout_threshold)


@dataclass
class PreparedTournament:
    """Everything the payout rules do not influence: data, participants, submissions (Parquet).

    With ``memoise`` each round's inputs are read from Parquet once and kept (a sweep replays the
    same rounds many times); without it memory stays flat however many rounds there are.
    """

    spec: TournamentSpec
    participants: list[Participant]
    rounds: int
    directory: Path
    memoise: bool = False
    _memo: dict[tuple[str, int], object] = field(default_factory=dict, repr=False)

    def live_path(self, round_number: int) -> Path:
        return self.directory / "data" / "live" / f"live_{round_number:05d}.parquet"

    def targets_path(self, round_number: int) -> Path:
        return self.directory / "data" / "live" / f"targets_{round_number:05d}.parquet"

    def predictions_path(self, round_number: int) -> Path:
        return self.directory / "submissions" / f"round_{round_number:05d}.parquet"

    def _get(self, what: str, round_number: int, load: Callable[[], object]) -> object:
        if not self.memoise:
            return load()
        key = (what, round_number)
        if key not in self._memo:
            self._memo[key] = load()
        return self._memo[key]

    def predictions(self, round_number: int) -> pd.DataFrame:
        """id + one column per model (named by its decimal model id), values in (0, 1]."""
        return self._get("predictions", round_number, lambda: read_parquet(self.predictions_path(round_number)))

    def targets(self, round_number: int) -> pd.DataFrame:
        return self._get("targets", round_number, lambda: read_parquet(self.targets_path(round_number)))

    def exposure(self, round_number: int) -> dict[int, float]:
        """Each model's signed exposure to the riskiest feature in this round (see riskiest_exposure)."""
        load = lambda: riskiest_exposure(  # noqa: E731
            World.of(self.spec), self.live_path(round_number), self.predictions(round_number)
        )
        return self._get("exposure", round_number, load)  # type: ignore[return-value]

    def kinds(self) -> dict[int, str]:
        return {p.model_id: p.kind for p in self.participants}


Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScoredRound:
    """What the engine keeps of ``RoundScores``, keyed by int model id."""

    corr: dict[int, float]
    mmc: dict[int, float]
    payouts: dict[int, int]
    burns: dict[int, int]
    meta_model: pd.Series
    #: ``RoundScores.scores``: what a round bundle publishes.
    table: pd.DataFrame


def score(
    predictions: pd.DataFrame, targets: pd.DataFrame, at_risk: Mapping[int, int], params: RoundParams
) -> ScoredRound:
    """Score one round with the production pipeline (``oracle.scoring.score_round``).

    The pipeline keys models by decimal strings, the ledger by int ids; every validation error is
    fatal here, since the example participants always submit complete, valid predictions.
    """
    stakes = pd.DataFrame({"model": [str(m) for m in at_risk], "stake": [str(v) for v in at_risk.values()]})
    result = score_round(predictions, targets, stakes, params)
    if result.errors:
        raise RuntimeError(f"scoring rejected submissions: {result.errors[:3]}")
    table = result.scores
    ids = [int(m) for m in table["model"]]
    pick = lambda col: dict(zip(ids, table[col]))  # noqa: E731
    payouts = {m: int(v) for m, v in pick("payout").items() if int(v) > 0}
    burns = {m: int(v) for m, v in pick("burn").items() if int(v) > 0}
    return ScoredRound(pick("corr"), pick("mmc"), payouts, burns, result.meta_model, table)


def meta_corr(meta_model: pd.Series, targets: pd.DataFrame) -> float:
    """CORR of the stake-weighted meta model, by the same ``numerai_corr`` definition as any model."""
    ranked = pd.DataFrame({"meta": rank_submission(meta_model.to_numpy())}, index=meta_model.index.astype(str))
    target = targets.set_index("id")["target"]
    target.index = target.index.astype(str)
    return float(score_matrix(ranked, target, pd.Series({"meta": 1.0})).corr[0])


def meta_similarity(predictions: pd.DataFrame, meta_model: pd.Series) -> dict[int, float]:
    """Pearson correlation of each model's submission with the round's meta model (1 = a copy of it)."""
    meta = meta_model.copy()
    meta.index = meta.index.astype(str)
    m = meta.reindex(predictions["id"].astype(str)).to_numpy(np.float64)
    m = (m - m.mean()) / m.std()
    models = [c for c in predictions.columns if c != "id"]
    p = predictions[models].to_numpy(np.float64)
    p = (p - p.mean(axis=0)) / p.std(axis=0)
    return {int(c): float(v) for c, v in zip(models, (m @ p) / len(m))}


def riskiest_exposure(world: World, live_path: Path, predictions: pd.DataFrame) -> dict[int, float]:
    """Signed exposure to the riskiest feature: s(e)·sign(a)·pearson(prediction, x_riskiest).

    The riskiest feature is the regime-flipping feature with the largest hidden weight |a|. The sign
    makes "exposed the way the current regime pays" positive, so exposure should line up with CORR
    within a regime and the plot shows what happens when the regime turns.
    """
    k = int(np.argmax(np.abs(world.risky_coef)))
    column = world.feature_columns[world.risky[k]]
    live = read_parquet(live_path, columns=["id", "era", column])
    era = int(live["era"].iloc[0]) - 1
    sign = world.spec.regime(era) * float(np.sign(world.risky_coef[k]))
    x = live.set_index("id")[column].reindex(predictions["id"]).to_numpy(np.float64)
    x = (x - x.mean()) / x.std()
    models = [c for c in predictions.columns if c != "id"]
    p = predictions[models].to_numpy(np.float64)
    p = (p - p.mean(axis=0)) / p.std(axis=0)
    return {int(m): sign * float(v) for m, v in zip(models, (x @ p) / len(x))}


#: Rounds whose live rows are stacked into one prediction call: bounds memory (5,000 rows × 60
#: float32 features × 25 rounds ≈ 30 MB) while keeping the per-call overhead negligible.
PREDICT_BLOCK = 25


def _resolved_rounds(prepared: "PreparedTournament", rounds: range) -> pd.DataFrame:
    """Live eras of ``rounds`` with their targets joined: what a retraining participant adds to its history."""
    frames = []
    for r in rounds:
        live = read_parquet(prepared.live_path(r))
        frames.append(live.merge(prepared.targets(r), on="id", how="left", validate="one_to_one"))
    return pd.concat(frames, ignore_index=True)


def prepare(
    spec: TournamentSpec,
    rounds: int,
    directory: str | Path,
    participants: Sequence[Participant] | None = None,
    n_models: int = 16,
    progress: Progress | None = None,
    retrain_every: int | None = None,
) -> PreparedTournament:
    """Generate data, train, and write every round's submissions under ``directory``.

    ``retrain_every``: how often the participants retrain, in rounds. ``None`` (the default, and what
    the economics tests assume) trains once on the history, as most Numerai participants do for long
    stretches. ``k`` retrains before rounds 1, 1+k, 1+2k, … on the history plus every live era already
    resolved (rounds before the retraining round, targets included), so models can learn a new regime.
    Each family of models is fitted once per retraining (see ``participants.Crowd``) and the rounds
    of a period are predicted in blocks of ``PREDICT_BLOCK`` rounds, one estimator call per block.
    """
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    if retrain_every is not None and retrain_every < 1:
        raise ValueError("retrain_every must be >= 1 round, or None to train once")
    directory = Path(directory)
    world = World.of(spec)
    people = list(participants) if participants is not None else default_population(n_models, seed=spec.seed)
    crowd = Crowd(people)
    prepared = PreparedTournament(spec, people, rounds, directory)
    history_path = write_history(world, directory / "data" / "train.parquet")
    (directory / "submissions").mkdir(parents=True, exist_ok=True)
    for r in range(1, rounds + 1):
        write_live_round(world, r, directory / "data" / "live")
    history = read_parquet(history_path)
    features = [c for c in history.columns if c.startswith("feature_")]
    period = retrain_every or rounds
    starts = list(range(1, rounds + 1, period))
    for i, start in enumerate(starts):
        end = min(rounds, start + period - 1)
        if i == 0:
            crowd.train(history, features)
        else:
            crowd.train(pd.concat([history, _resolved_rounds(prepared, range(1, start))], ignore_index=True), features)
        if progress:
            progress("train", i + 1, len(starts))
        for block in range(start, end + 1, PREDICT_BLOCK):
            block_rounds = list(range(block, min(end, block + PREDICT_BLOCK - 1) + 1))
            lives = [read_parquet(prepared.live_path(r)) for r in block_rounds]
            for r, live, submissions in zip(block_rounds, lives, crowd.predict(lives, block_rounds)):
                columns = {"id": live["id"].to_numpy()}
                columns |= {str(p.model_id): submissions[p.model_id].astype(np.float64) for p in people}
                pq.write_table(pa.table(columns), prepared.predictions_path(r))
                if progress:
                    progress("predict", r, rounds)
    del history
    (directory / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2))
    return prepared


@dataclass
class SimulationResult:
    """Per model and round: scores, amounts, balance after settlement; per round: the meta model."""

    models: pd.DataFrame  # model_id, name, kind
    #: round, model_id, corr, mmc, score, meta_similarity, stake_at_risk, payout, burn, balance, exposure
    rounds: pd.DataFrame
    meta: pd.DataFrame  # round, regime, meta_corr
    final_balances: dict[int, int]
    params: RoundParams

    def write(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.models.to_parquet(directory / "models.parquet", index=False)
        amounts = ("stake_at_risk", "payout", "burn", "balance")
        # Token amounts exceed int64: stored as decimal strings, like the round artifacts.
        rounds = self.rounds.assign(**{c: self.rounds[c].map(str) for c in amounts})
        rounds.to_parquet(directory / "rounds.parquet", index=False)
        self.meta.to_parquet(directory / "meta.parquet", index=False)
        (directory / "params.json").write_text(json.dumps(self.params.to_dict(), indent=2))


def settle(
    prepared: PreparedTournament,
    params: RoundParams | Callable[[int], RoundParams],
    backend: SettlementBackend | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Run every round's stake policies, scoring and settlement on ``backend`` (default off-chain)."""
    ledger = backend if backend is not None else OffChainLedger()
    params_of = params if callable(params) else (lambda _r: params)
    people = prepared.participants
    for p in people:
        ledger.stake(p.model_id, p.policy.initial())
    records: list[dict[str, object]] = []
    metas: list[dict[str, object]] = []
    for r in range(1, prepared.rounds + 1):
        balances = ledger.balances()
        for p in people:
            change = p.policy.adjust(balances.get(p.model_id, 0), r)
            if change > 0:
                ledger.stake(p.model_id, change)
            elif change < 0:
                ledger.withdraw(p.model_id, min(-change, balances.get(p.model_id, 0)))
        at_risk = ledger.stakes_at_risk()
        predictions = prepared.predictions(r)
        targets = prepared.targets(r)
        round_params = params_of(r)
        scored = score(predictions, targets, at_risk, round_params)
        ledger.settle_round(
            r, scored.payouts, scored.burns, RoundEvidence(predictions, targets, round_params, scored.table)
        )
        after = ledger.balances()
        exposure = prepared.exposure(r)
        similarity = meta_similarity(predictions, scored.meta_model)
        for p in people:
            m = p.model_id
            corr, mmc = scored.corr.get(m, np.nan), scored.mmc.get(m, np.nan)
            records.append(
                {
                    "round": r,
                    "model_id": m,
                    "corr": corr,
                    "mmc": mmc,
                    # The payout score before the payout factor and the clip: what a leaderboard ranks by.
                    "score": round_params.corr_weight * corr + round_params.mmc_weight * mmc,
                    "meta_similarity": similarity[m],
                    "stake_at_risk": at_risk.get(m, 0),
                    "payout": scored.payouts.get(m, 0),
                    "burn": scored.burns.get(m, 0),
                    "balance": after.get(m, 0),
                    "exposure": exposure[m],
                }
            )
        metas.append(
            {
                "round": r,
                "regime": prepared.spec.regime(prepared.spec.live_era_of(r)),
                "meta_corr": meta_corr(scored.meta_model, targets),
            }
        )
        if progress:
            progress("settle", r, prepared.rounds)
    models = pd.DataFrame(
        {"model_id": [p.model_id for p in people], "name": [p.name for p in people], "kind": [p.kind for p in people]}
    )
    table = pd.DataFrame.from_records(records)
    for col in ("stake_at_risk", "payout", "burn", "balance"):
        # Object dtype of Python ints: int64 would overflow silently once sums pass 9.2 tokens·1e18.
        table[col] = pd.Series([int(v) for v in table[col]], dtype=object)
    return SimulationResult(
        models, table, pd.DataFrame.from_records(metas), ledger.balances(), params_of(prepared.rounds)
    )


def run_simulation(
    spec: TournamentSpec,
    rounds: int,
    directory: str | Path,
    params: RoundParams | None = None,
    n_models: int = 16,
    backend: SettlementBackend | None = None,
    participants: Iterable[Participant] | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """prepare + settle, results written next to the data."""
    prepared = prepare(spec, rounds, directory, list(participants) if participants else None, n_models, progress)
    result = settle(prepared, params or default_params(), backend, progress)
    result.write(Path(directory) / "results")
    return result
