"""One exception root: every error class the project defines is a TourneyError, and the CLI reports it in one line."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

from click.testing import CliRunner

import oracle
from oracle.cli import main
from oracle.errors import TourneyError


def _project_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(oracle.__path__, "oracle."):
        if info.name.startswith(("oracle.demo", "oracle.simulation")):
            continue  # the demo and the simulation define no errors and import heavy optional parts
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def test_every_project_exception_has_the_one_root() -> None:
    classes = _project_exceptions()
    assert len(classes) >= 15
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, TourneyError)]
    assert strays == []


def test_input_errors_are_still_value_errors() -> None:
    from oracle.bundle.store import BundleError
    from oracle.protocol.submission import SubmissionError
    from oracle.scoring.params import ParamsError

    for cls in (BundleError, ParamsError, SubmissionError):
        assert issubclass(cls, ValueError)


def test_cli_reports_a_project_error_in_one_line(tmp_path) -> None:
    missing = tmp_path / "nothing" / "manifest.json"
    result = CliRunner().invoke(main, ["--json", "round", "show", str(missing)])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert "\n" not in document["error"] and str(missing.name) in document["error"]
