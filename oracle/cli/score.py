"""``tourney score``: score one round from files, write the scores table, print a summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.output import AMOUNT_KEYS, fail, get_output, json_option, make_table, tokens_cell

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from oracle.scoring.pipeline import RoundScores
    from oracle.scoring.validation import PredictionError

__all__ = ["score", "stakes_for_scoring", "write_scores", "summary"]


def stakes_for_scoring(table: pd.DataFrame) -> pd.DataFrame:
    """Accept a stake table with ``stake`` or ``stake_at_risk`` (the bundle's name) as the amount."""
    if "stake" not in table.columns and "stake_at_risk" in table.columns:
        return table.rename(columns={"stake_at_risk": "stake"})
    return table


def write_scores(result: RoundScores, out: str) -> None:
    """Write the scores (amounts as decimal strings) as Parquet (deterministic bytes) or CSV."""
    import fsspec

    from oracle.bundle.parquet import parquet_bytes

    name = out.split("?", 1)[0].lower()
    if name.endswith((".parquet", ".pq")):
        data = parquet_bytes(result.scores, out)
    elif name.endswith(".csv"):
        data = result.to_table().to_csv(index=False).encode()
    else:
        raise click.BadParameter(f"{out}: use a .parquet or .csv file name", param_hint="--out")
    with fsspec.open(out, "wb", auto_mkdir=True) as handle:
        handle.write(data)


def error_dict(error: PredictionError) -> dict[str, Any]:
    """A validation error as JSON: model (None for the whole table), rule, example ids, message."""
    return error.to_dict()


def _counts(result: RoundScores) -> dict[str, int]:
    scores = result.scores
    return {
        "models": len(scores),
        "scored": int(scores["valid"].sum()),
        "not_scored": int((~scores["valid"].astype(bool)).sum()),
        # Counts of models, named so that no key reads as a token amount (see oracle.cli.output.AMOUNT_KEYS).
        "with_payout": sum(1 for v in scores["payout"] if v > 0),
        "with_burn": sum(1 for v in scores["burn"] if v > 0),
    }


def summary(result: RoundScores, out: str) -> dict[str, Any]:
    """The JSON document of a scored round: every model's row, the totals, the counts and every error."""
    factor = result.payout_factor
    return {
        "out": out,
        "models": result.scores,
        "totals": {
            "payout": result.total_payout,
            "burn": result.total_burn,
            "stake_at_risk": result.total_stake_at_risk,
        },
        "payout_factor": f"{factor.numerator}/{factor.denominator}",
        "scored": int(result.scores["valid"].sum()),
        "counts": _counts(result),
        "errors": [error_dict(e) for e in result.errors],
    }


def ranked(result: RoundScores, params: Any) -> pd.DataFrame:
    """The scored models, best first by the payout score ``w_corr*CORR + w_mmc*MMC`` (the number the payout is a
    clipped multiple of), ties in model order."""
    scored = result.scores[result.scores["valid"].astype(bool)]
    score = params.corr_weight * scored["corr"].to_numpy() + params.mmc_weight * scored["mmc"].to_numpy()
    return scored.assign(score=score).sort_values("score", ascending=False, kind="stable")


def _in_tokens(frame: pd.DataFrame) -> Iterator[list[Any]]:
    """``frame``'s rows with the amount columns in tokens, for people (the written file and --json keep the exact
    smallest units)."""
    amounts = {i for i, c in enumerate(frame.columns) if c in AMOUNT_KEYS}
    for row in frame.itertuples(index=False, name=None):
        yield [tokens_cell(v) if i in amounts else v for i, v in enumerate(row)]


def _render(result: RoundScores, out: str, params: Any, every_row: bool, top: int) -> Any:
    def render(console: Console) -> None:
        scores = result.scores
        counts = _counts(result)
        numeric = [c for c in scores.columns if c not in ("model", "valid")]
        if every_row or len(scores) <= 2 * top:
            console.print(make_table("Scores (amounts in tokens)", list(scores.columns), _in_tokens(scores), numeric))
        else:
            best = ranked(result, params)
            columns = ["model", "score", *[c for c in numeric if c != "valid"]]
            console.print(
                make_table(
                    f"Top {min(top, len(best))} of {len(best)} scored models (payout score; amounts in tokens)",
                    columns,
                    _in_tokens(best[columns].head(top)),
                    columns[1:],
                )
            )
            console.print(
                make_table(
                    f"Bottom {min(top, len(best))}",
                    columns,
                    _in_tokens(best[columns].tail(top).iloc[::-1]),
                    columns[1:],
                )
            )
        totals = [
            ("payout", tokens_cell(result.total_payout)),
            ("burn", tokens_cell(result.total_burn)),
            ("stake at risk", tokens_cell(result.total_stake_at_risk)),
            ("payout factor", str(result.payout_factor)),
        ]
        console.print(make_table("Totals", ["total", "tokens"], totals, numeric=["tokens"]))
        labels = {
            "models": "in the round",
            "scored": "scored",
            "not_scored": "not scored (errors below)",
            "with_payout": "paid",
            "with_burn": "burned",
        }
        console.print(
            make_table("Models", ["", "count"], ((labels[k], v) for k, v in counts.items()), numeric=["count"])
        )
        if result.errors:
            problems = [(e.model or "(table)", e.rule, ", ".join(e.ids), e.message) for e in result.errors]
            console.print(
                make_table(
                    "Validation errors (these models were not scored)", ["model", "rule", "ids", "message"], problems
                )
            )
        more = "" if every_row or len(scores) <= 2 * top else " (--all prints every row, --json everything)"
        console.print(f"scores of {len(scores)} models written to {out}{more}", highlight=False)

    return render


def _check_out(out: str) -> None:
    """Refuse an output name that cannot be written before any work is done."""
    if not out.split("?", 1)[0].lower().endswith((".parquet", ".pq", ".csv")):
        raise click.BadParameter(f"{out}: use a .parquet or .csv file name", param_hint="--out")


@click.command("score")
@click.option(
    "--predictions",
    "predictions_path",
    required=True,
    help="Predictions: id column + one column per model (.parquet/.csv, path or URL).",
)
@click.option("--targets", "targets_path", required=True, help="Targets: id, target (.parquet/.csv).")
@click.option(
    "--stakes", "stakes_path", required=True, help="Stakes at risk: model, stake (or stake_at_risk) (.parquet/.csv)."
)
@click.option("--params", "params_path", required=True, help="Round parameters (JSON).")
@click.option("--out", required=True, help="Where to write the scores (.parquet or .csv, path or URL).")
@click.option(
    "--features", "features_path", default=None, help="Optional features table (id + feature columns) for FNC."
)
@click.option(
    "--all",
    "every_row",
    is_flag=True,
    help="Print every model's row (default: the best and worst, totals, "
    "counts and every validation error; small rounds print every row anyway).",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many of the best and of the worst models the summary shows.",
)
@json_option
def score(
    predictions_path: str,
    targets_path: str,
    stakes_path: str,
    params_path: str,
    out: str,
    features_path: str | None,
    every_row: bool,
    top: int,
) -> None:
    """Score a round: CORR, MMC, payout and burn per model.

    Invalid models are listed with the rule they broke and are not scored; the rest are. Exits
    non-zero only when a whole table is unusable. Every row goes to --out (and to --json).
    """
    from oracle.scoring.params import ParamsError, RoundParams
    from oracle.scoring.pipeline import score_round
    from oracle.scoring.prediction_files import read_predictions
    from oracle.scoring.tables import load_table

    _check_out(out)
    output = get_output()
    try:
        params = RoundParams.from_json(params_path)
    except ParamsError as exc:
        fail(f"{params_path}: {exc}")
    # The predictions go straight into the scoring matrix (pyarrow, no pandas frame): the one big table.
    predictions = read_predictions(predictions_path)
    targets = load_table(targets_path)
    stakes = stakes_for_scoring(load_table(stakes_path))
    features = load_table(features_path) if features_path else None
    result = score_round(predictions, targets, stakes, params, features=features)
    del predictions
    write_scores(result, out)
    output.emit(summary(result, out), _render(result, out, params, every_row, top))
