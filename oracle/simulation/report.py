"""``report.html``: one self-contained page (figures as embedded PNG) showing the economics.

Figures: stake over rounds per participant kind; cumulative burn per kind; CORR and MMC
distributions; the meta model's CORR against the best and median single model; exposure to the
riskiest feature against CORR; and, with a sweep, the sweep as a table and a heat map.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")  # headless: never open a display, whatever the environment says
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from oracle.simulation.engine import SimulationResult  # noqa: E402
from oracle.simulation.participants import KINDS, TOKEN  # noqa: E402
from oracle.simulation.sweep import outcome  # noqa: E402

__all__ = ["FIGURE_IDS", "render_report", "write_report"]

COLOURS = {"linear": "#1f77b4", "gbt": "#ff7f0e", "neutral": "#2ca02c", "consensus": "#9467bd", "spam": "#7f7f7f"}
#: The figures every report has; a sweep adds "sweep_heatmap".
FIGURE_IDS = ("stake", "burn", "distributions", "meta", "exposure")


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
    ax.set(xlabel="exposure to the riskiest feature (+ = aligned with the current regime)", ylabel="CORR",
           title="Feature exposure against CORR")
    ax.legend(fontsize=8, ncol=5)
    return fig


def sweep_heatmap(sweep: pd.DataFrame, metric: str = "spam_net_pct") -> plt.Figure:
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


def _effects_table(effects: Mapping[str, float]) -> str:
    claims = [
        ("Spammers lose stake in total", f"spam net = {effects['spam_net_pct']:+.2f}% of their stake",
         effects["spam_net_pct"] < 0),
        ("Neutralised ends with more stake than unneutralised gbt",
         f"neutral − gbt final stake = {effects['neutral_minus_gbt']:+,.1f} tokens", effects["neutral_minus_gbt"] > 0),
        ("Consensus copy earns less MMC than orthogonal models",
         f"consensus {effects['consensus_mmc']:+.4f} vs linear+neutral {effects['orthogonal_mmc']:+.4f}",
         effects["consensus_mmc"] < effects["orthogonal_mmc"]),
        ("Meta model CORR above the median single model",
         f"mean(meta − median) = {effects['meta_minus_median']:+.4f}", effects["meta_minus_median"] > 0),
    ]
    body = "".join(
        f"<tr><td>{html.escape(c)}</td><td>{html.escape(v)}</td><td class='{'ok' if ok else 'no'}'>"
        f"{'holds' if ok else 'does not hold'}</td></tr>"
        for c, v, ok in claims
    )
    return f"<table><tr><th>claim</th><th>measured</th><th>on this run</th></tr>{body}</table>"


def render_report(result: SimulationResult, sweep: pd.DataFrame | None = None, title: str = "Tournament simulation") -> str:
    """The whole page as one HTML string: no external resource, no script."""
    rows = _frame(result)
    figures = [
        ("stake", stake_figure(rows)),
        ("burn", burn_figure(rows)),
        ("distributions", distributions_figure(rows)),
        ("meta", meta_figure(rows, result.meta)),
        ("exposure", exposure_figure(rows)),
    ]
    if sweep is not None and len(sweep):
        figures.append(("sweep_heatmap", sweep_heatmap(sweep)))
    images = "".join(
        f"<figure id='fig-{fid}'><img alt='{fid}' src='data:image/png;base64,{_png(fig)}'></figure>" for fid, fig in figures
    )
    params = html.escape(", ".join(f"{k}={v}" for k, v in result.params.to_dict().items()))
    rounds = int(rows["round"].max())
    final = rows[rows["round"] == rounds][["name", "kind", "balance_tokens"]].rename(columns={"balance_tokens": "final stake"})
    sweep_html = (
        "<h2>Parameter sweep</h2>" + sweep.to_html(index=False, float_format=lambda v: f"{v:.4g}", classes="sweep")
        if sweep is not None and len(sweep) else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;max-width:1000px;margin:1em auto;color:#222}}
table{{border-collapse:collapse;margin:.5em 0;font-size:13px}} td,th{{border:1px solid #ccc;padding:3px 6px}}
.ok{{color:#1a7f37;font-weight:bold}} .no{{color:#b42318;font-weight:bold}} figure{{margin:1em 0}} img{{max-width:100%}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{rounds} rounds, {len(result.models)} models. Payout parameters (last round): {params}.</p>
<h2>The mechanism's claims</h2>{_effects_table(outcome(result))}
{images}
<h2>Final stakes (tokens)</h2>{final.to_html(index=False, float_format=lambda v: f"{v:,.2f}")}
{sweep_html}
</body></html>"""


def write_report(result: SimulationResult, directory: str | Path, sweep: pd.DataFrame | None = None) -> Path:
    """Write ``directory/report.html`` and return its path."""
    path = Path(directory) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result, sweep), encoding="utf-8")
    return path
