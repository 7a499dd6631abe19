"""``tourney score``: score one round from files, write the scores table, print a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from oracle.cli.output import fail, get_output, json_option, make_table

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


def summary(result: RoundScores, out: str) -> dict[str, Any]:
    """The JSON summary of a scored round."""
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
        "errors": [error_dict(e) for e in result.errors],
    }


def _render(result: RoundScores, out: str) -> Any:
    def render(console: Console) -> None:
        scores = result.scores
        numeric = [c for c in scores.columns if c not in ("model", "valid")]
        console.print(make_table("Scores", list(scores.columns), scores.itertuples(index=False, name=None), numeric))
        totals = [("payout", result.total_payout), ("burn", result.total_burn),
                  ("stake at risk", result.total_stake_at_risk), ("payout factor", str(result.payout_factor))]
        console.print(make_table("Totals", ["total", "amount"], totals, numeric=["amount"]))
        if result.errors:
            rows = [(e.model or "(table)", e.rule, ", ".join(e.ids), e.message) for e in result.errors]
            console.print(make_table("Validation errors (these models were not scored)", ["model", "rule", "ids", "message"], rows))
        console.print(f"scores written to {out}", highlight=False)

    return render


@click.command("score")
@click.option("--predictions", "predictions_path", required=True, help="Predictions: id column + one column per model (.parquet/.csv, path or URL).")
@click.option("--targets", "targets_path", required=True, help="Targets: id, target (.parquet/.csv).")
@click.option("--stakes", "stakes_path", required=True, help="Stakes at risk: model, stake (or stake_at_risk) (.parquet/.csv).")
@click.option("--params", "params_path", required=True, help="Round parameters (JSON).")
@click.option("--out", required=True, help="Where to write the scores (.parquet or .csv, path or URL).")
@click.option("--features", "features_path", default=None, help="Optional features table (id + feature columns) for FNC.")
@json_option
def score(predictions_path: str, targets_path: str, stakes_path: str, params_path: str, out: str, features_path: str | None) -> None:
    """Score a round: CORR, MMC, payout and burn per model.

    Invalid models are listed with the rule they broke and are not scored; the rest are. Exits
    non-zero only when a whole table is unusable.
    """
    from oracle.scoring.params import ParamsError, RoundParams
    from oracle.scoring.pipeline import load_table, score_round

    output = get_output()
    try:
        params = RoundParams.from_json(params_path)
        predictions = load_table(predictions_path)
        targets = load_table(targets_path)
        stakes = stakes_for_scoring(load_table(stakes_path))
        features = load_table(features_path) if features_path else None
        result = score_round(predictions, targets, stakes, params, features=features)
    except ParamsError as exc:
        fail(f"{params_path}: {exc}")
    write_scores(result, out)
    output.emit(summary(result, out), _render(result, out))
