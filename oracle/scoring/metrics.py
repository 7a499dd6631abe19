# size: one idea (the vectorised metrics, 441 lines); the rank, meta-model and feature passes share private
# block-wise state (rank codes, gaussian tables, universe ranks), and splitting them would export those internals.
"""Vectorised tournament metrics, numerically equal to numerai-tools 0.7.2.

Definitions (all from ``numerai_tools.scoring``; n is the number of ids a quantity runs over):

* tie-kept rank: ``r_i = (avg_rank_i - 0.5) / n`` with average ranks for ties (pandas ``rank("average")``).
* gaussianize: ``g_i = Phi^-1(r_i)`` (``scipy.special.ndtri``, which is what ``norm.ppf`` calls).
* power 1.5: ``pow15(x) = sign(x) * |x|**1.5``.
* CORR (``numerai_corr``): ``t' = t - mean(t)`` over every target given, then over the ids U that have
  both a prediction and a target: ``pearson(pow15(g(p over U)), pow15(t'))``.
* meta model (``stake_weight`` of the gaussianized predictions over all prediction ids):
  ``M = sum_j s_j * g_j / sum_j s_j``, summed sequentially in stake order (pandas' order, so a
  near-tie in M breaks the same way), missing cells contributing 0, ``s_j = float64(stake_j)``,
  staked models only.
* MMC (``correlation_contribution``): over U, ``m = g(M over U)``, ``p = g(p over U)``,
  ``y = 4t`` if every target is in [0, 1] else ``t``, ``y_c = y - mean(y)``,
  ``MMC = (y_c.p - (y_c.m)(p.m)/(m.m)) / n`` -- the closed form of projecting p off m.
* FNC (``feature_neutral_corr``): ``h = g(p over all ids)`` minus its least-squares projection on
  [features, 1] (singular values below 1e-6 x the largest are dropped, as ``lstsq(rcond=1e-6)``),
  then CORR of h.
* max feature exposure (``max_feature_correlation(p, features)[1]``): ``max_f |pearson(p, f)|``
  on the raw predictions.

Deviation, by decision: when the meta model is constant over U (for example two opposite models
with equal stakes), numerai-tools returns NaN (0/0) for every MMC; we return 0.0, since no
contribution to a constant meta model is measurable and payouts need a finite number.
A constant prediction column gives CORR = NaN here as in numerai-tools; the pipeline rejects
constant columns at validation, before scoring.

Why not call numerai-tools per model: it ranks through pandas one column at a time and holds
several ids x models copies (about 28 s and 2.3 GB at 5,000 x 5,000). Ranking here is one argsort
per block of models; every average rank is a half-integer, so ``Phi^-1`` and ``pow15`` are looked
up in a table of the 2n-1 possible values, computed with the very same float operations.
``scipy.stats.rankdata(axis=1, method="average")`` gives the same ranks but took 2.3 s per
1,000 x 5,000 block here (argsort: 0.2 s) and would still leave ``ndtri`` to run on every cell.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri

__all__ = ["Metrics", "score_matrix", "score_rows", "tie_kept_gaussian", "DEFAULT_BLOCK"]

# Models per block: big enough that numpy call overhead vanishes, small enough that the
# handful of block temporaries (each block x ids x 8 bytes) stay far below the G matrix.
DEFAULT_BLOCK = 128


@dataclass(frozen=True)
class Metrics:
    """Per-model metrics in the order of ``models``; ``meta_model`` is indexed by prediction id."""

    models: list[str]
    corr: np.ndarray
    mmc: np.ndarray
    meta_model: pd.Series
    fnc: np.ndarray | None = None
    max_feature_exposure: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per model: model, corr, mmc (+ fnc, max_feature_exposure when computed)."""
        data: dict[str, object] = {"model": self.models, "corr": self.corr, "mmc": self.mmc}
        if self.fnc is not None:
            data["fnc"] = self.fnc
        if self.max_feature_exposure is not None:
            data["max_feature_exposure"] = self.max_feature_exposure
        return pd.DataFrame(data)


def _pow15(x: np.ndarray) -> np.ndarray:
    """sign(x)*|x|**1.5, written exactly as numerai-tools' ``power`` so tables match bit for bit."""
    result: np.ndarray = np.sign(x) * np.abs(x) ** 1.5
    return result


def _gauss_table(n: int) -> np.ndarray:
    """``Phi^-1((r - 0.5)/n)`` for every possible average rank r = 1, 1.5, ..., n (index 2r-2)."""
    avg_rank = np.arange(2 * n - 1, dtype=np.float64) * 0.5 + 1.0
    result: np.ndarray = ndtri((avg_rank - 0.5) / n)
    return result


def _codes_from_differs(differs: np.ndarray) -> np.ndarray:
    """``2*avg_rank - 2`` at each sorted position, from ``ordered[:, 1:] != ordered[:, :-1]``.

    A tie group spanning sorted positions [a, a+L-1] has average 1-based rank a + (L+1)/2, so its
    code is 2a + L - 1: an exact integer, hence a table index. Computed once per group, then
    repeated over the group's positions.
    """
    rows, n = differs.shape[0], differs.shape[1] + 1
    starts = np.ones((rows, n), dtype=bool)
    starts[:, 1:] = differs
    first = np.flatnonzero(starts)
    length = np.diff(first, append=rows * n)
    code = 2 * (first % n) + length - 1
    return np.repeat(code, length).reshape(rows, n)


def _sort_rows(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, differs): each row's argsort and where consecutive sorted values differ."""
    order = np.argsort(block, axis=1)
    ordered = np.take_along_axis(block, order, axis=1)
    return order, ordered[:, 1:] != ordered[:, :-1]


def _rank_codes(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row; return (order, codes) with ``codes[i, k] = 2*avg_rank - 2`` of the k-th smallest."""
    order, differs = _sort_rows(block)
    if differs.all():
        return order, np.broadcast_to(2 * np.arange(block.shape[1]), block.shape)
    return order, _codes_from_differs(differs)


def tie_kept_gaussian(values: np.ndarray) -> np.ndarray:
    """Gaussianized tie-kept ranks of each row of a 2-D array (rows = models, columns = ids)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    table = _gauss_table(values.shape[1])
    order, codes = _rank_codes(values)
    out = np.empty_like(values)
    np.put_along_axis(out, order, table[codes], axis=1)
    return out


@dataclass(frozen=True)
class _Targets:
    """Target vectors over the scoring universe U, prepared once for every model."""

    corr_y: np.ndarray  # pow15(t - mean_all) centred over U
    corr_norm: float
    mmc_y: np.ndarray  # (4t if t in [0,1]) centred over U

    @staticmethod
    def build(t_universe: np.ndarray, mean_all: float) -> "_Targets":
        y = _pow15(t_universe - mean_all)
        y = y - y.mean()
        in_unit = bool(((t_universe >= 0) & (t_universe <= 1)).all())
        z = t_universe * 4 if in_unit else t_universe
        return _Targets(corr_y=y, corr_norm=float(np.sqrt(y @ y)), mmc_y=z - z.mean())


def _mmc(p_dot_y: np.ndarray, p_dot_m: np.ndarray, m: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed form of ``y.(p - m (p.m)/(m.m)) / n``; 0 when m is constant (documented deviation)."""
    mm = float(m @ m)
    if mm == 0.0:
        return np.zeros_like(p_dot_y)
    return (p_dot_y - p_dot_m * (float(y @ m) / mm)) / len(y)


def _corr_sorted(q_sorted: np.ndarray, y_sorted: np.ndarray, y_norm: float) -> np.ndarray:
    """Pearson per row where q and y were both permuted into each row's sort order."""
    qc = q_sorted - q_sorted.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", qc, y_sorted)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: np.ndarray = num / (np.sqrt(np.einsum("ij,ij->i", qc, qc)) * y_norm)
        return result


class _UniverseRanks:
    """Sort orders of many models over one id universe, for CORR and the two MMC dot products.

    A row without ties has sorted gaussian values ``g_table[0::2]`` (codes 0, 2, 4, ...), shared by
    every such row; rows with ties keep their rank codes (uint16 up to 32,768 ids), in one matrix whose
    rows without ties are never written (nor, for the most part, paged in). Keeping int32 orders and
    codes instead of the gaussianized matrix cuts the memory by more than half and turns each dot
    product with G into a gather followed by one matrix-vector product.
    """

    def __init__(self, n: int, tg: _Targets, rows: int):
        self.n = n
        self.tg = tg
        self.g_table = _gauss_table(n)
        self.q_table = _pow15(self.g_table)
        self.g_even = self.g_table[0::2]
        q_even = self.q_table[0::2]
        self.qc_even = q_even - q_even.mean()
        self.qc_norm = float(np.sqrt(self.qc_even @ self.qc_even))
        self.order = np.empty((rows, n), dtype=np.int32)
        self.code_dtype = np.uint16 if 2 * n - 2 <= np.iinfo(np.uint16).max else np.uint32
        self.codes = np.empty((rows, n), dtype=self.code_dtype)  # rank codes in sort order, rows with ties
        self.tied = np.zeros(rows, dtype=bool)

    def add(self, start: int, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rank rows ``start..`` of the store from ``block``; return their (CORR, p.y_mmc)."""
        order, differs = _sort_rows(block)
        self.order[start : start + len(block)] = order
        tg = self.tg
        corr = np.empty(len(block))
        pdy = np.empty(len(block))
        tied = ~differs.all(axis=1)
        plain = np.flatnonzero(~tied)
        if len(plain):
            sub = order[plain] if len(plain) < len(block) else order
            with np.errstate(invalid="ignore", divide="ignore"):
                corr[plain] = (np.take(tg.corr_y, sub) @ self.qc_even) / (self.qc_norm * tg.corr_norm)
            pdy[plain] = np.take(tg.mmc_y, sub) @ self.g_even
        tie_rows = np.flatnonzero(tied)
        if len(tie_rows):
            sub = order[tie_rows] if len(tie_rows) < len(block) else order
            codes = _codes_from_differs(differs[tie_rows] if len(tie_rows) < len(block) else differs)
            corr[tie_rows] = _corr_sorted(self.q_table[codes], np.take(tg.corr_y, sub), tg.corr_norm)
            pdy[tie_rows] = np.einsum("ij,ij->i", self.g_table[codes], np.take(tg.mmc_y, sub))
            # 2n-1 codes fit in 16 bits up to 32,768 ids: a quarter of the memory of the g values.
            self.codes[start + tie_rows] = codes
            self.tied[start + tie_rows] = True
        return corr, pdy

    def sorted_g(self, row: int) -> np.ndarray:
        """Row ``row``'s gaussianized values in its own sort order."""
        return self.g_table[self.codes[row]] if self.tied[row] else self.g_even

    def dot(self, start: int, stop: int, v: np.ndarray) -> np.ndarray:
        """``G[start:stop] @ v`` computed in each row's sort order."""
        ordered_v = np.take(v, self.order[start:stop])
        out = ordered_v @ self.g_even
        # Row by row: small temporaries (a block-wide gather is slower here), one dot product each as ever.
        for i in np.flatnonzero(self.tied[start:stop]):
            out[i] = self.g_table[self.codes[start + i]] @ ordered_v[i]
        result: np.ndarray = out
        return result

    def g_rows(self, start: int, stop: int) -> np.ndarray:
        """Gaussianized rows ``start..stop`` scattered back to id order."""
        out = np.empty((stop - start, self.n))
        for i, row in enumerate(range(start, stop)):
            out[i, self.order[row]] = self.sorted_g(row)
        return out


def _gaussian_over(values: np.ndarray) -> np.ndarray:
    """Gaussianized tie-kept ranks of one vector over exactly its own entries."""
    result: np.ndarray = tie_kept_gaussian(values)[0]
    return result


def _meta_model_acc(
    weights: pd.Series,
    accumulate: "Callable[[np.ndarray, str, float], None]",
    n_ids: int,
) -> np.ndarray:
    """Stake-weighted mean where ``accumulate(acc, model, w)`` adds ``w * g_model`` in place.

    Sequential accumulation in stake order reproduces pandas' ``(df * stakes).sum(axis=1)`` bit for
    bit; a BLAS matrix-vector product rounds differently and could flip near-ties of M, which is
    re-ranked for MMC.
    """
    acc = np.zeros(n_ids)
    for model, weight in zip(weights.index, weights.to_numpy(dtype=np.float64)):
        accumulate(acc, str(model), float(weight))
    result: np.ndarray = acc / weights.sum()
    return result


def score_matrix(
    predictions: pd.DataFrame,
    targets: pd.Series,
    stakes: pd.Series,
    features: pd.DataFrame | None = None,
    block: int = DEFAULT_BLOCK,
    threads: int = 2,
) -> Metrics:
    """CORR, MMC (and FNC, max feature exposure if ``features``) for every model at once.

    predictions: ids x models, values in [0, 1]; NaN means "no prediction for this id" and such a
        model is ranked over its own ids only (numerai-tools' filtering), in a slower per-model path.
    targets: indexed by id; NaN targets are not scored (the ids drop out of U); the CORR centring
        uses the mean of every non-NaN target given, as ``numerai_corr`` does.
    stakes: weights of the meta model, indexed by model name (a subset of the columns); entries
        <= 0 are left out. Pass float64(stake) of the integer stakes.
    features: indexed by id, covering every prediction id, no NaN.
    threads: ranking threads (results do not depend on it).

    A frame front end to :func:`score_rows` (which takes the models x ids matrix itself).
    """
    values = np.ascontiguousarray(predictions.to_numpy(dtype=np.float64).T)
    return score_rows(
        values,
        predictions.index,
        [str(c) for c in predictions.columns],
        targets,
        stakes,
        features=features,
        block=block,
        threads=threads,
    )


def score_rows(
    values: np.ndarray,
    ids: pd.Index | Sequence[str],
    models: Sequence[str],
    targets: pd.Series,
    stakes: pd.Series,
    features: pd.DataFrame | None = None,
    block: int = DEFAULT_BLOCK,
    threads: int = 2,
) -> Metrics:
    """:func:`score_matrix` on a models x ids float64 matrix (row j: model ``models[j]``, column i: id ``ids[i]``),
    read and never copied whole: the form prediction files are read into (:mod:`oracle.scoring.tables`)."""
    models = [str(m) for m in models]
    ids = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    if values.shape != (len(models), len(ids)):
        raise ValueError(f"predictions: a {values.shape} matrix for {len(models)} models x {len(ids)} ids")
    if len(set(models)) != len(models):
        raise ValueError("predictions: duplicate model columns")
    n = len(ids)
    values_t = np.ascontiguousarray(values, dtype=np.float64)  # no copy when it already is
    row_of = {m: j for j, m in enumerate(models)}

    t_all = pd.Series(targets, dtype=np.float64)
    mean_all = float(t_all.mean())
    t_ids = t_all.reindex(ids).to_numpy(dtype=np.float64)
    in_u = ~np.isnan(t_ids)
    if not in_u.any():
        raise ValueError("no prediction id has a target: nothing can be scored")
    full_universe = bool(in_u.all())
    tg = _Targets.build(t_ids[in_u], mean_all)

    weights = pd.Series(stakes, dtype=np.float64)
    weights.index = [str(m) for m in weights.index]
    unknown = [m for m in weights.index if m not in row_of]
    if unknown:
        raise ValueError(f"stakes name models without predictions: {unknown[:5]}")
    weights = weights[weights > 0]

    missing = np.asarray(np.isnan(values_t).any(axis=1))  # asarray: numpy's stubs allow a scalar from any(axis=)
    complete = np.flatnonzero(~missing)
    partial = np.flatnonzero(missing)
    k = len(models)
    corr = np.full(k, np.nan)
    mmc = np.full(k, np.nan)

    def partial_gaussian(j: int) -> np.ndarray:
        """A partial model's gaussianized ranks over its own ids, 0 elsewhere (pandas skipna sum)."""
        x = values_t[j]
        own = ~np.isnan(x)
        g = np.zeros(n)
        g[own] = _gaussian_over(x[own])
        return g

    g_table = _gauss_table(int(in_u.sum()))
    q_table = _pow15(g_table)
    stored: _UniverseRanks | None = None
    stored_row = {int(j): i for i, j in enumerate(complete)}

    if full_universe:
        # One ranking serves the meta model and the scores: keep each model's sort order.
        stored = _UniverseRanks(n, tg, len(complete))
        pdy = np.empty(len(complete))
        starts = range(0, len(complete), block)
        # numpy's sort releases the GIL, so blocks rank in parallel; each writes only its own rows.
        with ThreadPoolExecutor(max(1, threads)) as pool:
            done = pool.map(lambda a: stored.add(a, _rows(values_t, complete[a : a + block])), starts)
            for a, (block_corr, block_pdy) in zip(starts, done):
                corr[complete[a : a + block]] = block_corr
                pdy[a : a + block] = block_pdy

        def accumulate(acc: np.ndarray, model: str, weight: float) -> None:
            j = row_of[model]
            if j in stored_row:
                r = stored_row[j]
                # Same per-element operation as acc += g*w, applied in sort order (unique indices).
                acc[stored.order[r]] += stored.sorted_g(r) * weight
            else:
                acc += partial_gaussian(j) * weight

        meta = _meta_model_acc(weights, accumulate, n) if len(weights) else np.full(n, np.nan)
        if len(weights):
            m_u = _gaussian_over(meta)
            pdm = (
                np.concatenate(
                    [stored.dot(a, min(a + block, len(complete)), m_u) for a in range(0, len(complete), block)]
                )
                if len(complete)
                else np.empty(0)
            )
            mmc[complete] = _mmc(pdy, pdm, m_u, tg.mmc_y)
    else:
        # The meta model ranks over every prediction id, the scores over U only: two rankings.
        def accumulate_all_ids(acc: np.ndarray, model: str, weight: float) -> None:
            j = row_of[model]
            acc += (partial_gaussian(j) if missing[j] else _gaussian_over(values_t[j])) * weight

        meta = _meta_model_acc(weights, accumulate_all_ids, n) if len(weights) else np.full(n, np.nan)
        m_u = _gaussian_over(meta[in_u]) if len(weights) else np.full(int(in_u.sum()), np.nan)
        u_idx = np.flatnonzero(in_u)
        for a in range(0, len(complete), block):
            cols = complete[a : a + block]
            order, codes = _rank_codes(values_t[np.ix_(cols, u_idx)])
            gs = g_table[codes]
            corr[cols] = _corr_sorted(q_table[codes], tg.corr_y[order], tg.corr_norm)
            pdy = np.einsum("ij,ij->i", gs, tg.mmc_y[order])
            pdm = np.einsum("ij,ij->i", gs, m_u[order])
            mmc[cols] = _mmc(pdy, pdm, m_u, tg.mmc_y)

    # With no staked model there is no meta model and MMC stays NaN (nothing is at risk anyway).
    for j in partial:
        corr[j], mmc[j] = _score_partial(values_t[j], t_ids, mean_all, meta)

    fnc = exposure = None
    if features is not None:
        fnc, exposure = _feature_metrics(values_t, complete, features, ids, in_u, tg, stored, block)
    return Metrics(
        models=models,
        corr=corr,
        mmc=mmc,
        meta_model=pd.Series(meta, index=ids, name="meta_model"),
        fnc=fnc,
        max_feature_exposure=exposure,
    )


def _rows(values_t: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Rows ``cols`` of the models x ids matrix; a view when they are consecutive (no copy)."""
    if len(cols) and cols[-1] - cols[0] + 1 == len(cols):
        return values_t[cols[0] : cols[-1] + 1]
    result: np.ndarray = values_t[cols]
    return result


def _score_partial(x: np.ndarray, t_ids: np.ndarray, mean_all: float, meta: np.ndarray) -> tuple[float, float]:
    """CORR and MMC of a model that skipped some ids, over V = its ids that have a target."""
    v = ~np.isnan(x) & ~np.isnan(t_ids)
    if v.sum() < 2:
        return float("nan"), float("nan")
    tg = _Targets.build(t_ids[v], mean_all)
    table = _gauss_table(int(v.sum()))
    order, codes = _rank_codes(x[v][None, :])
    corr = _corr_sorted(_pow15(table)[codes], tg.corr_y[order], tg.corr_norm)[0]
    g = table[codes][0]
    m = _gaussian_over(meta[v])
    pdy = np.array([g @ tg.mmc_y[order[0]]])
    pdm = np.array([g @ m[order[0]]])
    return float(corr), float(_mmc(pdy, pdm, m, tg.mmc_y)[0])


def _feature_metrics(
    values_t: np.ndarray,
    complete: np.ndarray,
    features: pd.DataFrame,
    ids: pd.Index,
    in_u: np.ndarray,
    tg: _Targets,
    stored: "_UniverseRanks | None",
    block: int,
) -> tuple[np.ndarray, np.ndarray]:
    """FNC and max |corr(prediction, feature)| for complete models; NaN for partial ones
    (numerai-tools' ``neutralize`` refuses NaN, so they have no defined value)."""
    f = features.reindex(ids).to_numpy(dtype=np.float64)
    if np.isnan(f).any():
        raise ValueError("features must cover every prediction id with no NaN")
    k = values_t.shape[0]
    fnc = np.full(k, np.nan)
    exposure = np.full(k, np.nan)
    basis = np.hstack([f, np.ones((len(f), 1))])
    fc = f - f.mean(axis=0)
    f_norm = np.sqrt(np.einsum("ij,ij->j", fc, fc))
    u_idx = np.flatnonzero(in_u)
    g_table = _gauss_table(len(u_idx))
    q_table = _pow15(g_table)
    for a in range(0, len(complete), block):
        cols = complete[a : a + block]
        raw = _rows(values_t, cols)
        g = stored.g_rows(a, a + len(cols)) if stored is not None else tie_kept_gaussian(raw)
        # lstsq itself (not a cached projector) so the residuals round as numerai-tools' do:
        # the residuals are re-ranked, and a rounding difference could flip a near-tie.
        coef = np.linalg.lstsq(basis, g.T, rcond=1e-6)[0]
        resid = (g.T - basis.dot(coef)).T
        order, codes = _rank_codes(resid[:, u_idx])
        fnc[cols] = _corr_sorted(q_table[codes], tg.corr_y[order], tg.corr_norm)
        xc = raw - raw.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.abs((xc @ fc) / np.outer(np.sqrt(np.einsum("ij,ij->i", xc, xc)), f_norm))
        all_nan = np.isnan(c).all(axis=1)
        exposure[cols] = np.where(all_nan, np.nan, np.nanmax(np.where(np.isnan(c), -1.0, c), axis=1))
    return fnc, exposure
