"""``tourney deploy``: deploy the token and the tournament to any chain by its RPC URL, and record the deployment.

The deployment code is the one ``scripts/deploy.py``, the demo and the tests use (``oracle.chain.deploy.deploy``).
Its parameters are the fields of :class:`oracle.chain.deploy.DeployParams`, one option each (``challenge_period``
becomes ``--challenge-period``), built from the dataclass itself so that new parameters appear here without edits.
The file is written only where no other deployment is recorded (``--force`` to replace one), before anything is
sent, and it records the RPC URL, which every other command then uses by default.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

import click

from oracle.cli.context import read_password
from oracle.cli.output import fail, get_output, json_option

__all__ = ["deploy_command"]


#: How a DeployParams field is typed on the command line, by its name: amounts in tokens, caps in basis points,
#: texts as they are, every other integer in seconds.
def _kind(name: str, annotation: str) -> str:
    if annotation == "str":
        return "text"
    if name == "token_supply" or name.endswith("_stake"):
        return "tokens"
    if name.endswith("_bps"):
        return "basis points"
    return "seconds"


def _tokens(text: str, name: str) -> int:
    try:
        value = Decimal(text.replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number of tokens", param_hint=f"--{name}") from None
    units = value.scaleb(18)
    if units != units.to_integral_value() or units < 0:
        raise click.BadParameter(
            f"{text!r} is not a non-negative amount with at most 18 decimals", param_hint=f"--{name}"
        )
    return int(units)


def _param_options() -> list[click.Option]:
    from oracle.chain.deploy_params import DeployParams  # plain data: no web3 for --help

    defaults = DeployParams()
    options = []
    for f in dataclasses.fields(DeployParams):
        kind = _kind(f.name, str(f.type))
        default = getattr(defaults, f.name)
        shown = f"{default // 10**18:,}" if kind == "tokens" else default
        unit = "" if kind == "text" else f", in {kind}"
        options.append(
            click.Option(
                [f"--{f.name.replace('_', '-')}", f.name],
                default=None,
                metavar=kind.upper().replace(" ", "_"),
                type=str if kind in ("text", "tokens") else click.IntRange(min=0),
                help=f"DeployParams.{f.name}{unit} [local default: {shown}].",
            )
        )
    return options


class _DeployCommand(click.Command):
    """A command whose DeployParams options are built on first use (help or invocation), not at ``tourney``
    start-up."""

    _built = False

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not self._built:
            self.params = [*self.params, *_param_options()]
            self._built = True
        return super().get_params(ctx)


def _holder(value: str | None, keystore: Any, deployer: str, role: str) -> str:
    """An address for a role: a 0x address, a keystore account name, or the deployer when not given."""
    from web3 import Web3

    if value is None:
        return deployer
    if Web3.is_address(value):
        return Web3.to_checksum_address(value)
    if keystore.exists(value):
        return keystore.address(value)
    fail(f"--{role} {value!r} is neither an address (0x...) nor an account of {keystore.directory}")
    raise AssertionError


@click.command("deploy", cls=_DeployCommand)
@click.option(
    "--rpc",
    envvar="TOURNEY_RPC",
    default="http://127.0.0.1:8545",
    show_default=True,
    metavar="URL",
    help="JSON-RPC endpoint of the chain [env TOURNEY_RPC].",
)
@click.option(
    "--account",
    envvar="TOURNEY_ACCOUNT",
    required=True,
    metavar="NAME",
    help="Keystore account that deploys and pays the gas; it receives the whole token supply [env TOURNEY_ACCOUNT].",
)
@click.option(
    "--keystore-dir",
    envvar="TOURNEY_KEYSTORE_DIR",
    default=None,
    metavar="DIR",
    help="Keystore directory [env TOURNEY_KEYSTORE_DIR, default ~/.tourney/keystores].",
)
@click.option("--oracle", default=None, metavar="ADDRESS|NAME", help="ORACLE_ROLE holder (default: the deployer).")
@click.option(
    "--guardian",
    default=None,
    metavar="ADDRESS|NAME",
    help="GUARDIAN_ROLE holder, who may veto a root (default: the deployer).",
)
@click.option("--pauser", default=None, metavar="ADDRESS|NAME", help="PAUSER_ROLE holder (default: the deployer).")
@click.option(
    "--admin",
    default=None,
    metavar="ADDRESS|NAME",
    help="DEFAULT_ADMIN_ROLE holder, a timelock or multisig on a real network (default: the deployer).",
)
@click.option(
    "--out",
    default="deployment.json",
    show_default=True,
    type=click.Path(),
    metavar="FILE",
    help="Where to record the deployment (what --deployment reads).",
)
@click.option("--force", is_flag=True, help="Replace the deployment already recorded in --out.")
@json_option
def deploy_command(
    rpc: str,
    account: str,
    keystore_dir: str | None,
    oracle: str | None,
    guardian: str | None,
    pauser: str | None,
    admin: str | None,
    out: str,
    force: bool,
    **params: Any,
) -> None:
    """Deploy the token and the tournament, grant the roles and record the deployment in --out.

    On a local chain every role defaults to the deployer (fine for a trial) and the parameters to DeployParams'
    local defaults. On any other chain name each role's holder explicitly (the admin a timelock or multisig); the
    defaults are the public ones (a day's challenge period, D of 30 days, an admin delay longer than D), and
    parameters that break the tournament's promises are refused. See docs/operator-guide.md."""
    from web3 import Web3

    from oracle.chain.deploy import PUBLIC_NETWORK_PARAMS, DeployParams, check_public_network_safety, deploy
    from oracle.chain.deployment_file import LOCAL_CHAIN_IDS, check_rpc_url, check_writable, save_deployment
    from oracle.chain.keystore import Keystore
    from oracle.chain.tx import RpcUnavailable, Sender
    from oracle.chain.units import format_tokens

    check_rpc_url(rpc)
    target = check_writable(out, force)
    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": 60}))
    try:
        chain_id = int(w3.eth.chain_id)
    except Exception as exc:  # noqa: BLE001 - any transport error means the endpoint is unusable
        raise RpcUnavailable(
            f"JSON-RPC endpoint {rpc} does not answer ({exc}): is the chain running? "
            "(a local one: `anvil --block-time 1`)"
        ) from None
    local = chain_id in LOCAL_CHAIN_IDS
    values: dict[str, Any] = {}
    for f in dataclasses.fields(DeployParams):
        given = params.get(f.name)
        if given is not None:
            values[f.name] = _tokens(given, f.name) if _kind(f.name, str(f.type)) == "tokens" else given
    try:
        # A local chain takes the local defaults (short windows); any other the public ones (a day's challenge
        # period, D of 30 days, an admin delay longer than D).
        deploy_params = dataclasses.replace(DeployParams() if local else PUBLIC_NETWORK_PARAMS, **values)
    except (TypeError, ValueError) as exc:
        fail(f"deployment parameters refused: {exc}", code=2)
    keystore = Keystore(keystore_dir)
    address = keystore.address(account)
    holders = {
        role: _holder(value, keystore, address, role)
        for role, value in (("oracle", oracle), ("guardian", guardian), ("pauser", pauser), ("admin", admin))
    }
    if not local:
        defaulted = [
            role
            for role, value in (("oracle", oracle), ("guardian", guardian), ("pauser", pauser), ("admin", admin))
            if value is None
        ]
        if defaulted:
            fail(
                f"chain {chain_id} is not a local chain: name each role's holder explicitly (missing: "
                + ", ".join(f"--{r}" for r in defaulted)
                + "); see docs/operator-guide.md",
                code=2,
            )
    if not local:
        check_public_network_safety(deploy_params, holders["admin"], address)
    if w3.eth.get_balance(address) == 0:
        fail(
            f"the deployer {account} ({address}) has no ether on chain {chain_id} to pay for gas: fund it first "
            "(on a local Anvil, import one of the accounts Anvil prints at start-up)"
        )
    signer = keystore.unlock(account, read_password(f"Password for {account} ({address})"))
    deployment = deploy(
        Sender(w3, signer),
        deploy_params,
        oracle=holders["oracle"],
        guardian=holders["guardian"],
        pauser=holders["pauser"],
        admin=holders["admin"],
    )
    path = save_deployment(deployment, target, rpc=rpc, force=True)
    data = {
        "chain_id": deployment.chain_id,
        "token": deployment.token,
        "tournament": deployment.tournament,
        "block": deployment.block,
        "admin": deployment.admin,
        "roles": deployment.roles,
        "rpc": rpc,
        "deployment_file": str(path),
        "params": dataclasses.asdict(deploy_params),
    }

    def render(console: Any) -> None:
        console.print(f"deployed on chain {deployment.chain_id} ({rpc}) at block {deployment.block}", highlight=False)
        console.print(
            f"  token         {deployment.token} ({deploy_params.token_symbol}, "
            f"{format_tokens(deploy_params.token_supply, 18, deploy_params.token_symbol)} held by "
            f"{account})",
            highlight=False,
        )
        console.print(f"  tournament    {deployment.tournament}", highlight=False)
        for role, holders_of in sorted(deployment.roles.items()):
            console.print(f"  {role:<14}{', '.join(holders_of)}", highlight=False)
        console.print(f"  admin         {deployment.admin}", highlight=False)
        console.print(
            f"recorded in {path}; next: fund the reward reserve (`tourney reserve fund AMOUNT`)", highlight=False
        )
        if local and len(set(holders.values())) == 1:
            get_output().note("note: every role is held by the deployer: fine for a local trial, not for real funds")

    get_output().emit(data, render)
