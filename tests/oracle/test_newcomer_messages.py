"""What a newcomer reads when something is wrong, off-chain (issue 16): each message says what is wrong and what to do.

The chain-backed messages (gas, reverts with role names, the operator's missing files, status reasons) are in
tests/e2e/test_newcomer_journeys.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_utils import keccak

from oracle.chain.clock import format_duration, format_time, stale_clock_warning
from oracle.chain.deploy import Deployment
from oracle.chain.deployment_file import DeploymentExists, check_rpc_url, check_writable, save_deployment
from oracle.chain.reverts import explain_revert, role_name
from oracle.chain.tx import ChainError, ContractReverted
from oracle.chain.units import format_amount, format_tokens
from oracle.cli import main
from oracle.cli.output import jsonable
from oracle.participant.models import ParticipantError
from oracle.participant.submit import check_prediction_file, require_inbox
from oracle.protocol.rules import RoundRules, RulesError
from oracle.scoring.params import RoundParams

REPO = Path(__file__).resolve().parents[2]
UNIT = 10**18
DEPLOYMENT = Deployment(
    chain_id=31337,
    token="0x" + "11" * 20,
    tournament="0x" + "22" * 20,
    block=7,
    admin="0x" + "33" * 20,
    roles={"ORACLE_ROLE": ["0x" + "44" * 20]},
    rpc="http://127.0.0.1:8545",
)


def invoke(*args: str, env: dict | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


# ------------------------------------------------------------------------------------------------ amounts, times


def test_amounts_read_as_tokens_and_times_as_utc() -> None:
    assert format_amount(12_500_000_000_000_000_000) == "12.5"
    assert format_tokens(1_000_500 * UNIT // 1000, symbol="STK") == "1,000.5 STK"
    assert format_tokens(-3 * UNIT) == "-3 STK"
    assert format_tokens(10**18 + 1, places=6, symbol="ETH") == "~1 ETH"
    assert format_duration(75) == "1 min 15 s" and format_duration(90_000) == "1 d 1 h"
    assert format_time(1_767_225_600) == "2026-01-01 00:00:00 UTC"
    assert format_time(1_767_225_600, now=1_767_225_420) == "2026-01-01 00:00:00 UTC (in 3 min)"
    assert format_time(1_767_225_600, now=1_767_232_800).endswith("(2 h ago)")
    assert format_time(0) == "-"


def test_json_carries_every_amount_as_a_decimal_string_and_other_numbers_as_numbers() -> None:
    data = jsonable(
        {
            "stake": 5,
            "payout": 10**24,
            "gas": 21_000,
            "round": 3,
            "rounds": [{"burn": 7, "corr": 0.01, "closes_at": 1_767_225_600}],
        }
    )
    assert data == {
        "stake": "5",
        "payout": "1000000000000000000000000",
        "gas": 21_000,
        "round": 3,
        "rounds": [{"burn": "7", "corr": 0.01, "closes_at": 1_767_225_600}],
    }


# ------------------------------------------------------------------------------------------------ reverts


def test_reverts_read_as_sentences_with_role_names_and_token_amounts() -> None:
    missing_role = ContractReverted(
        "open round 1",
        "AccessControlUnauthorizedAccount",
        {"account": "0xabc", "neededRole": keccak(text="ORACLE_ROLE")},
    )
    assert str(missing_role).startswith("open round 1 refused by the contract: 0xabc does not hold ORACLE_ROLE")
    assert "[AccessControlUnauthorizedAccount]" in str(missing_role)
    assert role_name(b"\0" * 32) == "DEFAULT_ADMIN_ROLE"
    over = ContractReverted(
        "request withdrawal", "WithdrawalExceedsStake", {"modelId": 4, "requested": 600 * UNIT, "available": 500 * UNIT}
    )
    assert "model 4 has 500 STK that can be withdrawn, less than the 600 STK asked: ask for at most 500 STK" in str(
        over
    )
    assert explain_revert("RoundNotDue", {"round": 2, "closesAt": 1_767_225_600}) == (
        "round 2 closes at 2026-01-01 00:00:00 UTC: it cannot be closed before that"
    )
    # An error without a sentence still reads: its name and its arguments, formatted the same way.
    assert explain_revert("SomethingNew", {"amount": 2 * UNIT, "until": 1_767_225_600}) == (
        "SomethingNew(amount=2 STK, until=2026-01-01 00:00:00 UTC)"
    )


# ------------------------------------------------------------------------------------------------ the chain's clock


def test_a_chain_whose_clock_stands_still_is_named_with_the_fix() -> None:
    assert stale_clock_warning(1_000, wall=1_020) is None
    warning = stale_clock_warning(1_000, wall=1_300)
    assert warning is not None and "5 min" in warning and "anvil --block-time 1" in warning


# ---------------------------------------------------------------------------------------- deployment file, RPC URL


def test_an_rpc_url_without_its_scheme_says_how_to_write_it() -> None:
    assert check_rpc_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    with pytest.raises(
        ChainError,
        match=r"'127.0.0.1:8545' is not a JSON-RPC URL: write it with its scheme, "
        r"e\.g\. http://127\.0\.0\.1:8545",
    ):
        check_rpc_url("127.0.0.1:8545")
    code, out = invoke("status", "--model", "1", "--rpc", "127.0.0.1:8545", "--deployment", "x.json")
    # The URL is checked before the deployment file is read: the message is the URL's, whatever else is missing.
    assert code == 1 and "'127.0.0.1:8545' is not a JSON-RPC URL" in out and "http://127.0.0.1:8545" in out
    assert "No connection adapters" not in out


def test_a_deployment_is_never_written_over_another(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    save_deployment(DEPLOYMENT, path, rpc="http://127.0.0.1:8545")
    assert json.loads(path.read_text())["rpc"] == "http://127.0.0.1:8545"
    save_deployment(DEPLOYMENT, path)  # the same record again is no overwrite
    other = Deployment(**{**DEPLOYMENT.__dict__, "tournament": "0x" + "55" * 20})
    with pytest.raises(DeploymentExists) as refused:
        save_deployment(other, path)
    message = str(refused.value)
    assert f"already records the deployment of tournament {DEPLOYMENT.tournament} on chain 31337" in message
    assert "--out FILE" in message and "--force" in message
    assert json.loads(path.read_text())["tournament"] == DEPLOYMENT.tournament
    save_deployment(other, path, force=True)
    assert json.loads(path.read_text())["tournament"] == other.tournament
    with pytest.raises(DeploymentExists, match="is a directory"):
        check_writable(tmp_path)


def test_deploy_refuses_before_sending_anything_when_the_file_exists(tmp_path: Path) -> None:
    save_deployment(DEPLOYMENT, tmp_path / "deployment.json")
    # No chain listens on this port: the refusal comes first, so nothing could have been deployed.
    code, out = invoke(
        "deploy", "--rpc", "http://127.0.0.1:9", "--account", "nobody", "--out", str(tmp_path / "deployment.json")
    )
    assert code == 1 and "refusing to replace it" in out


def test_deploy_options_follow_the_deploy_params_dataclass() -> None:
    from dataclasses import fields

    from oracle.chain.deploy import DeployParams

    code, out = invoke("deploy", "--help")
    assert code == 0
    for f in fields(DeployParams):
        assert f"--{f.name.replace('_', '-')}" in out
    assert "--challenge-period SECONDS" in out and "--token-supply TOKENS" in out


def test_a_missing_deployment_file_names_the_command_that_writes_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tourney deploy"):
        Deployment.load(tmp_path / "none.json")


def test_the_deployment_file_in_the_current_directory_and_its_rpc_are_the_defaults(tmp_path: Path, monkeypatch) -> None:
    from oracle.cli.context import ChainOptions

    monkeypatch.chdir(tmp_path)
    assert ChainOptions(None, None, None, None).resolved() == (None, None)
    save_deployment(DEPLOYMENT, tmp_path / "deployment.json", rpc="http://127.0.0.1:8545")
    assert ChainOptions(None, None, None, None).resolved() == ("deployment.json", "http://127.0.0.1:8545")
    assert ChainOptions("http://other:1", None, None, None).resolved()[1] == "http://other:1"


# ------------------------------------------------------------------------------------------------ files, inboxes, rules


def test_a_tsv_file_is_told_which_formats_work() -> None:
    [problem] = check_prediction_file(1, b"id\tprediction\nn1\t0.5\n", "predictions.tsv", ["n1"])
    assert problem.rule == "unknown_format" and "use .csv, .parquet or .pq" in problem.message


def test_a_file_missing_live_ids_is_refused_against_the_rounds_ids_not_its_own() -> None:
    live = [f"n{i}" for i in range(10)]
    half = "id,prediction\n" + "".join(f"n{i},0.{i + 1}\n" for i in range(5))
    assert check_prediction_file(1, half.encode(), "p.csv") == []  # alone, the file is consistent
    [problem] = check_prediction_file(1, half.encode(), "p.csv", live)
    assert problem.rule == "missing_ids" and "5 absent" in problem.message


def test_an_inbox_that_does_not_exist_is_refused_unless_created(tmp_path: Path) -> None:
    typo = tmp_path / "inbx"
    with pytest.raises(
        ParticipantError,
        match=r"does not exist: check the path the operator gave you .* pass "
        r"--create to make it",
    ):
        require_inbox(str(typo))
    assert not typo.exists()
    require_inbox(str(typo), create=True)
    assert typo.is_dir()


def test_the_participant_cannot_loosen_the_rounds_rule() -> None:
    code, out = invoke("submit", "--round", "1", "--model", "1", "--min-live-share", "0.5", "p.csv")
    assert code == 2 and "No such option '--min-live-share'" in out


def test_rules_round_trip_and_a_broken_document_says_where() -> None:
    rules = RoundRules(
        round=3,
        params=RoundParams.numerai_default(),
        live_file="live_00003.parquet",
        live_sha256="ab" * 32,
        live_ids=2000,
    )
    assert RoundRules.from_bytes(rules.to_bytes()) == rules
    with pytest.raises(RulesError, match=r"rules_3.json: schema is None"):
        RoundRules.from_bytes(b'{"round": 3}', "rules_3.json")


def test_submitting_without_downloading_the_round_says_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("id,prediction\nn1,0.5\n")
    code, out = invoke("submit", "--round", "2", "--model", "1", "--inbox", str(tmp_path), "p.csv")
    assert code == 1 and "no live data for round 2 in data: download it first (`tourney data download --round 2" in out


def test_the_data_download_of_an_unreachable_service_names_the_url() -> None:
    code, out = invoke("data", "download", "--round", "1", "--from", "http://127.0.0.1:9")
    assert code == 1 and "does not answer" in out and "http://127.0.0.1:9" in out


# ------------------------------------------------------------------------------------------------ round show, list


def test_round_show_of_a_directory_says_what_to_pass(tmp_path: Path) -> None:
    manifest = tmp_path / "rounds" / "1" / ("manifest-000001-" + "ab" * 32 + ".json")
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    code, out = invoke("round", "show", str(tmp_path))
    assert code == 1 and f"{tmp_path} is a directory: pass a manifest file" in out and str(manifest) in out


def test_round_list_of_a_missing_store_is_an_error_and_reads_tourney_store(tmp_path: Path) -> None:
    code, out = invoke("round", "list", str(tmp_path / "nowhere"))
    assert code == 1 and "artifact store" in out and "does not exist" in out
    code, out = invoke("round", "list", env={"TOURNEY_STORE": str(tmp_path)})
    assert code == 0 and f"no round published in {tmp_path} yet" in out
    code, out = invoke("round", "list")
    assert code == 2 and "TOURNEY_STORE" in out


def test_round_recompute_needs_a_manifest_or_a_round_and_a_service() -> None:
    code, out = invoke("round", "recompute", "--round", "1")
    assert code == 2 and "--round R with --service URL" in out


# ------------------------------------------------------------------------------------------------ defaults, docs


def test_the_operators_default_weights_are_the_simulations() -> None:
    from oracle.cli.simulate import simulate

    defaults = {p.name: p.default for p in simulate.params}
    params = RoundParams.numerai_default()
    assert (params.corr_weight, params.mmc_weight, params.clip) == (
        defaults["corr_weight"],
        defaults["mmc_weight"],
        defaults["clip"],
    )
    _code, out = invoke("operator", "run", "--help")
    assert "0.5*CORR + 2*MMC" in out


def test_the_readme_and_docs_link_nothing_outside_the_repository_and_say_what_to_put_on_path() -> None:
    texts = {p: p.read_text() for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")]}
    for path, text in texts.items():
        for target in re.findall(r"\]\(([^)]+)\)", text):
            if target.startswith(("http://", "https://", "#")):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert REPO in resolved.parents or resolved == REPO, f"{path.name} links outside: {target}"
        assert "DESIGN.md" not in text and "../shared" not in text, path
    readme = texts[REPO / "README.md"]
    assert 'export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"' in readme
    assert "docs/operator-guide.md" in readme and "docs/participant-quickstart.md" in readme


# ------------------------------------------------------------------------------------------------ named commands


def _unknown_in(command_line: str) -> str | None:
    """Why ``tourney ...`` as a message or a document writes it would not run, or None: every subcommand exists and
    every ``--option`` belongs to the command it follows (``a|b`` names alternatives; CAPITALS are placeholders)."""
    import click

    ctx = click.Context(main)  # the top-level group loads its subcommands lazily: ask it, not its .commands
    words = command_line.split()[1:]
    group: click.Command = main
    while words and words[0] == "--json":
        words = words[1:]
    while isinstance(group, click.Group) and words and not words[0].startswith("-"):
        word = words.pop(0)
        if word.isupper():
            return None  # `tourney COMMAND --help`
        names = word.split("|")
        missing = [n for n in names if group.get_command(ctx, n) is None]
        if missing:
            return f"no command {' '.join(missing)} in {group.name}"
        if len(names) > 1:
            return None  # alternatives: each exists; their options differ
        found = group.get_command(ctx, word)
        assert found is not None
        group = found
    options = {o for p in group.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]}
    for word in words:
        flag = word.split("=")[0].rstrip(".,;:)")
        if flag.startswith("--") and flag not in options | {"--json", "--help"}:
            return f"no option {flag} for {group.name}"
    return None


def test_every_command_a_message_or_a_document_names_exists_with_its_options() -> None:
    # The first newcomer read "run `tourney deploy`", which did not exist. Messages are often split over string
    # literals: join them before looking for the backticked command.
    joined = re.compile(r"\"\s*\n\s*(?:f|rf|fr)?\"")
    named = []
    for path in [*(REPO / "oracle").rglob("*.py"), *(REPO / "docs").glob("*.md"), REPO / "README.md"]:
        text = joined.sub("", path.read_text())
        named += [(path.relative_to(REPO), m) for m in re.findall(r"(?<!`)`(tourney [^`]+)`", text)]
    assert len(named) > 50  # the scan sees the messages and the guides
    unknown = [(str(path), line, why) for path, line in named if (why := _unknown_in(line.replace("{", " {")))]
    assert not unknown, unknown
