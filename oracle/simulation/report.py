"""``report.html``: one self-contained page (figures as embedded PNG, no script) a person reads in a minute.

Top: the four claims, each a sentence with its estimate and 95% interval across seeds, whether it holds,
and a small chart (every seed's value, the mean and its interval, zero marked). Below: one row per seed,
then the first seed in detail (stake and burn per participant kind, CORR and MMC distributions, the meta
model against single models, exposure against CORR) and, with a sweep, the sweep as a table and a heat map.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: never open a display, whatever the environment says
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from oracle.simulation.claims import MEASURES, ClaimResult
from oracle.simulation.engine import SimulationResult
from oracle.simulation.participants import KINDS, TOKEN
from oracle.simulation.seeds import SeedRun

__all__ = ["FIGURE_IDS", "claim_figure_ids", "render_report", "write_report"]

COLOURS = {"linear": "#1f77b4", "gbt": "#ff7f0e", "neutral": "#2ca02c", "consensus": "#9467bd", "spam": "#7f7f7f"}
#: The figures of the seed shown in detail; each claim adds "claim-<name>", a sweep "sweep_heatmap".
FIGURE_IDS = ("stake", "burn", "distributions", "meta", "exposure")
_MET = {True: "#1a7f37", False: "#b42318", None: "#6e7781"}
_CLASS = {True: "ok", False: "no", None: "undecided"}
_MARK = {True: "✔", False: "✘", None: "?"}


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _frame(result: SimulationResult) -> pd.DataFrame:
    """Per model-round rows with kind, and amounts in tokens (floats: only for plotting)."""
    rows = result.rounds.merge(result.models, on="model_id")
    for col in ("stake_at_risk", "payout", "burn", "balance"):
        rows[col + "_tokens"] = [int(v) / TOKEN for v in rows[col]]
    return rows


def _kinds_present(rows: pd.DataFrame) -> list[str]:
    return [k for k in KINDS if k in set(rows["kind"])]


def stake_figure(rows: pd.DataFrame) -> plt.Figure:
    """Σ balance per kind after each round, relative to that kind's stake in round 1 (so spammers'
    small stakes share an axis with the real models')."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for kind in _kinds_present(rows):
        per_round = rows[rows["kind"] == kind].groupby("round")[["balance_tokens", "stake_at_risk_tokens"]].sum()
        start = per_round["stake_at_risk_tokens"].iloc[0]
        ax.plot(per_round.index, per_round["balance_tokens"] / start, label=kind, color=COLOURS[kind])
    ax.axhline(1.0, color="black", lw=0.6, ls=":")
    ax.set(xlabel="round", ylabel="stake / stake in round 1", title="Stake over rounds per participant kind")
    ax.legend(fontsize=8, ncol=5)
    return fig


def burn_figure(rows: pd.DataFrame) -> plt.Figure:
    """Cumulative tokens burned per kind."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for kind in _kinds_present(rows):
        burned = rows[rows["kind"] == kind].groupby("round")["burn_tokens"].sum().cumsum()
        ax.plot(burned.index, burned.values, label=kind, color=COLOURS[kind])
    ax.set(xlabel="round", ylabel="tokens burned (cumulative)", title="Cumulative burn per participant kind")
    ax.legend(fontsize=8, ncol=5)
    return fig


def distributions_figure(rows: pd.DataFrame) -> plt.Figure:
    """Box plots of per-round CORR and MMC by kind."""
    kinds = _kinds_present(rows)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, metric in zip(axes, ("corr", "mmc")):
        data = [rows.loc[rows["kind"] == k, metric].dropna().to_numpy() for k in kinds]
        box = ax.boxplot(data, patch_artist=True)
        ax.set_xticks(range(1, len(kinds) + 1), kinds)
        for patch, kind in zip(box["boxes"], kinds):
            patch.set_facecolor(COLOURS[kind])
        ax.axhline(0.0, color="black", lw=0.6, ls=":")
        ax.set(title=f"{metric.upper()} per round", ylabel=metric.upper())
    return fig


def meta_figure(rows: pd.DataFrame, meta: pd.DataFrame) -> plt.Figure:
    """Cumulative mean CORR of the meta model, of the best single model (by final mean CORR) and
    the per-round median of the non-spam models."""
    real = rows[rows["kind"] != "spam"]
    by_model = real.pivot(index="round", columns="name", values="corr")
    best = by_model.mean().idxmax()
    median = by_model.median(axis=1)
    meta_corr = meta.set_index("round")["meta_corr"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    running = lambda s: s.expanding().mean()  # noqa: E731
    ax.plot(meta_corr.index, running(meta_corr), label="meta model", color="black", lw=2)
    ax.plot(by_model.index, running(by_model[best]), label=f"best single ({best})", color="#d62728")
    ax.plot(median.index, running(median), label="median single (non-spam)", color="#17becf")
    ax.set(xlabel="round", ylabel="mean CORR to date", title="Meta model against single models")
    ax.legend(fontsize=8)
    return fig


def exposure_figure(rows: pd.DataFrame) -> plt.Figure:
    """Per model-round: exposure to the riskiest feature (signed so + pays in the current regime) vs CORR."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for kind in _kinds_present(rows):
        part = rows[rows["kind"] == kind]
        ax.scatter(part["exposure"], part["corr"], s=8, alpha=0.6, label=kind, color=COLOURS[kind])
    ax.axhline(0.0, color="black", lw=0.6, ls=":")
    ax.axvline(0.0, color="black", lw=0.6, ls=":")
    ax.set(
        xlabel="exposure to the riskiest feature (+ = aligned with the current regime)",
        ylabel="CORR",
        title="Feature exposure against CORR",
    )
    ax.legend(fontsize=8, ncol=5)
    return fig


def sweep_heatmap(sweep: pd.DataFrame, metric: str = "neutral_vol_diff_pct") -> plt.Figure:
    """``metric`` over clip × (corr_weight, mmc_weight), averaged over payout thresholds."""
    table = sweep.assign(weights=[f"{c:g}·CORR+{m:g}·MMC" for c, m in zip(sweep["corr_weight"], sweep["mmc_weight"])])
    grid = table.pivot_table(index="clip", columns="weights", values=metric, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    image = ax.imshow(grid.to_numpy(), cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [f"{c:g}" for c in grid.index])
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set(xlabel="payout weights", ylabel="clip", title=f"Sweep: {metric}")
    fig.colorbar(image, ax=ax)
    return fig


def claim_figure(claim: ClaimResult) -> plt.Figure:
    """One row per charted measure: every seed's value (dots), the mean (diamond) and its 95% interval
    (bar), zero dotted. Green where the measure's condition is met, red where not, grey if not decided
    or not a condition."""
    measures = claim.spec.chart
    met = {c.measure: m for c, m in claim.conditions}
    fig, axes = plt.subplots(len(measures), 1, figsize=(6.4, 0.62 * len(measures) + 0.35), squeeze=False)
    seeds = sorted(claim.per_seed)
    rng = np.random.default_rng(0)  # fixed jitter: the same report renders the same image
    for ax, measure in zip(axes[:, 0], measures):
        values = np.array([claim.per_seed[s][measure] for s in seeds], dtype=np.float64)
        interval = claim.intervals[measure]
        colour = _MET[met.get(measure)]
        ax.scatter(values, rng.uniform(-0.25, 0.25, len(values)), s=12, color="#8c959f", alpha=0.8, zorder=2)
        if not np.isnan(interval.ci_low):
            ax.plot([interval.ci_low, interval.ci_high], [0, 0], color=colour, lw=4, alpha=0.6, zorder=3)
        ax.scatter([interval.estimate], [0], marker="D", s=36, color=colour, zorder=4)
        ax.axvline(0.0, color="black", lw=0.8, ls=":")
        finite = values[np.isfinite(values)]
        span = np.concatenate([finite, [0.0]])
        pad = 0.08 * (span.max() - span.min() or 1.0)
        ax.set_xlim(span.min() - pad, span.max() + pad)
        ax.set_ylim(-0.5, 0.5)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
        m = MEASURES[measure]
        ax.set_title(f"{m.label} ({m.unit})", fontsize=8, loc="left", pad=2)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    fig.tight_layout(h_pad=0.4)
    return fig


def claim_figure_ids(claims: Sequence[ClaimResult]) -> list[str]:
    return [f"claim-{c.name}" for c in claims]


def _figure(fid: str, fig: plt.Figure) -> str:
    return f"<figure id='fig-{fid}'><img alt='{fid}' src='data:image/png;base64,{_png(fig)}'></figure>"


def _claim_section(claim: ClaimResult) -> str:
    verdict = _CLASS[claim.holds]
    conditions = "".join(
        f"<li class='{_CLASS[met]}'>{_MARK[met]} {html.escape(c.describe())}</li>" for c, met in claim.conditions
    )
    return (
        f"<section class='claim' id='claim-{claim.name}'>"
        f"<h3>{html.escape(claim.spec.title)} <code>{claim.name}</code>: <span class='{verdict}'>"
        f"{html.escape(claim.verdict())}</span></h3>"
        f"<p>{html.escape(claim.sentence())}</p>"
        f"{_figure('claim-' + claim.name, claim_figure(claim))}"
        f"<ul class='conditions'>{conditions}</ul></section>"
    )


def _seed_table(runs: Sequence[SeedRun], claims: Sequence[ClaimResult]) -> str:
    measures = list(dict.fromkeys(m for c in claims for m in c.spec.measures))
    head = "".join(
        f"<th title='{html.escape(MEASURES[m].label + ' (' + MEASURES[m].unit + ')')}'>{html.escape(m)}</th>"
        for m in measures
    )
    body = "".join(
        f"<tr><td>{run.seed}</td><td>{run.seconds:.1f}</td>"
        + "".join(f"<td>{run.measures[m]:+.{MEASURES[m].digits}f}</td>" for m in measures)
        + "</tr>"
        for run in runs
    )
    legend = "".join(
        f"<li><code>{m}</code>: {html.escape(MEASURES[m].label)} ({html.escape(MEASURES[m].unit)})</li>"
        for m in measures
    )
    return (
        f"<div class='wide'><table class='seeds'><tr><th>seed</th><th>seconds</th>{head}</tr>{body}</table></div>"
        f"<details><summary>What the columns are</summary><ul>{legend}</ul></details>"
    )


def _seed_detail(run: SeedRun) -> str:
    rows = _frame(run.result)
    figures = [
        ("stake", stake_figure(rows)),
        ("burn", burn_figure(rows)),
        ("distributions", distributions_figure(rows)),
        ("meta", meta_figure(rows, run.result.meta)),
        ("exposure", exposure_figure(rows)),
    ]
    rounds = int(rows["round"].max())
    final = rows[rows["round"] == rounds][["name", "kind", "balance_tokens"]].rename(
        columns={"balance_tokens": "final stake"}
    )
    params = html.escape(", ".join(f"{k}={v}" for k, v in run.result.params.to_dict().items()))
    return (
        f"<h2>Seed {run.seed} in detail</h2><p>Payout parameters (last round): {params}.</p>"
        + "".join(_figure(fid, fig) for fid, fig in figures)
        + f"<h3>Final stakes (tokens)</h3>{final.to_html(index=False, float_format=lambda v: f'{v:,.2f}')}"
    )


def render_report(
    runs: Sequence[SeedRun],
    claims: Sequence[ClaimResult],
    config: str,
    sweep: pd.DataFrame | None = None,
    title: str = "Tournament simulation",
) -> str:
    """The whole page as one HTML string: no external resource, no script."""
    if not runs:
        raise ValueError("a report needs at least one seed's run")
    decided = [c for c in claims if c.holds is not None]
    held = sum(1 for c in decided if c.holds)
    seeds = ", ".join(str(r.seed) for r in runs)
    summary = (
        f"{held} of {len(claims)} claims hold across {len(runs)} seeds"
        if len(decided) == len(claims)
        else "one seed: the claims need at least two seeds to be judged"
    )
    sweep_html = ""
    if sweep is not None and len(sweep):
        sweep_html = (
            f"<h2>Parameter sweep (seed {runs[0].seed})</h2>"
            + _figure("sweep_heatmap", sweep_heatmap(sweep))
            + "<div class='wide'>"
            + sweep.to_html(index=False, float_format=lambda v: f"{v:.4g}", classes="sweep")
            + "</div>"
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#222;line-height:1.35}}
table{{border-collapse:collapse;margin:.5em 0;font-size:12px}} td,th{{border:1px solid #ccc;padding:2px 5px}}
.wide{{overflow-x:auto}} .claim{{border-top:1px solid #ddd;padding-top:.3em}} .claim p{{margin:.3em 0}}
.ok{{color:#1a7f37;font-weight:bold}} .no{{color:#b42318;font-weight:bold}} .undecided{{color:#6e7781;font-weight:bold}}
.conditions{{font-size:13px;margin:.2em 0}} .conditions li{{font-weight:normal}}
figure{{margin:.4em 0}} img{{max-width:100%}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p><b>{html.escape(summary)}.</b> {html.escape(config)}. Seeds: {html.escape(seeds)}. Each interval is the 95%
t-interval of the mean across seeds; dots are single seeds.</p>
<h2>The mechanism's claims</h2>
{"".join(_claim_section(c) for c in claims)}
<h2>Per seed</h2>
{_seed_table(runs, claims)}
{_seed_detail(runs[0])}
{sweep_html}
</body></html>"""


def write_report(
    runs: Sequence[SeedRun],
    claims: Sequence[ClaimResult],
    directory: str | Path,
    config: str,
    sweep: pd.DataFrame | None = None,
) -> Path:
    """Write ``directory/report.html`` and return its path."""
    path = Path(directory) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(runs, claims, config, sweep), encoding="utf-8")
    return path
