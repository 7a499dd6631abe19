"""The chain side of the oracle: contract artifacts, a local Anvil, deployment, and sending transactions."""
