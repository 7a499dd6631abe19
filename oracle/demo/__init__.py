"""The demo: a whole tournament on a local Anvil (``make demo``). ``run`` drives it, ``__main__`` prints the report.

The names below are what the demo's test and callers use."""

from oracle.demo.run import DemoConfig, DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "run_demo"]
