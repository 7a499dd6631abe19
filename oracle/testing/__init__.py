"""Test support shared by tests, benchmarks and the demo: the local tournament builder and the service harness.
May import anything."""
