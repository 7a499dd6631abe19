"""``python -m oracle.demo`` (``make demo``): run the demo tournament and print its report; exit 0 only when every
standing proposal verified, the bad one was caught, and the tournament is solvent per claim. With ``--serve`` (``make
web-demo``) the chain and files are then kept and served with the web app until interrupted (oracle.demo.serve)."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from rich.console import Console

from oracle.chain.deploy import UNIT
from oracle.chain.units import format_tokens
from oracle.demo.run import DemoResult, run_demo


def render(result: DemoResult, console: Console) -> None:
    """The end-of-demo report: models, verdicts, per-claim solvency."""
    from oracle.cli.output import make_table

    rows = [
        (r.model, r.owner, f"{r.stake / UNIT:.4f}", f"{r.payout / UNIT:.4f}", f"{r.burn / UNIT:.4f}")
        for r in result.models.itertuples()
    ]
    console.print(
        make_table(
            "Models after the last round (STK)",
            ["model", "owner", "stake", "payout", "burn"],
            rows,
            numeric=["model", "stake", "payout", "burn"],
        )
    )
    verdict_rows = [
        (v.round, v.status, "OK" if v.ok else "MISMATCH", ", ".join(v.models()) or "-", v.proposal.root[:18] + "…")
        for v in result.verdicts
    ]
    console.print(
        make_table(
            "Auditor verdicts (every proposal)",
            ["round", "status", "verdict", "models", "root"],
            verdict_rows,
            numeric=["round"],
        )
    )
    for round, reasons in result.rejections.items():
        if reasons:
            console.print(f"round {round} rejected submissions: {', '.join(reasons)}", highlight=False)
    console.print(f"withdrawn: {result.withdrawn / UNIT:.4f} STK; vetoed round: {result.vetoed_round}", highlight=False)
    if result.agent is not None:
        refused = sum(1 for call in result.agent.transcript if not call.ok)
        console.print(
            f"agent (MCP client): model {result.agent.model_id} staked {result.agent.staked / UNIT:.4f} "
            f"STK, withdrew {result.agent.withdrawn / UNIT:.4f} STK at exit; {len(result.agent.transcript)} "
            f"tool calls, {refused} refused (structured error)",
            highlight=False,
        )
    staked = sum(result.stakes.values())
    console.print(
        f"per claim: every one of {len(result.stakes)} models' stakes is >= 0 and within the supply: "
        f"{'yes' if result.claims_sound else 'NO'}",
        highlight=False,
    )
    # Exact to the smallest unit (the check is exact), in tokens as people read them.
    console.print(
        f"solvency: tournament token balance {format_tokens(result.token_balance)} >= sum of stakes "
        f"{format_tokens(staked)} + reserve {format_tokens(result.reserve)} + burns due "
        f"{format_tokens(result.burn_due)}: {'yes' if result.solvent else 'NO'} (surplus "
        f"{format_tokens(result.token_balance - staked - result.reserve - result.burn_due)})",
        highlight=False,
    )
    console.print(f"{result.rounds} rounds in {result.seconds:.1f} s", highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oracle.demo", description="A whole tournament on a local Anvil.")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="then keep the chain and serve the tournament with the web app until interrupted (make web-demo)",
    )
    args = parser.parse_args(argv)
    console = Console(width=140)
    started = time.monotonic()
    verdict: list[bool] = []
    say = lambda line: console.print(line, highlight=False)  # noqa: E731

    def report(anvil: object, demo: object, result: DemoResult) -> None:
        render(result, console)
        standing_ok = all(v.ok for v in result.verdicts if v.standing)
        caught = any(not v.ok and not v.standing for v in result.verdicts)
        verdict.append(standing_ok and caught and result.conserved)
        console.print(f"total {time.monotonic() - started:.1f} s", highlight=False)
        if args.serve:
            from oracle.demo.serve import serve_demo

            serve_demo(anvil, demo, say, threading.Event())

    try:
        run_demo(say=say, then=report)
    except KeyboardInterrupt:
        console.print("stopped", highlight=False)
    return 0 if verdict and verdict[0] else 1


if __name__ == "__main__":
    sys.exit(main())
