"""Off-chain half of the staking tournament: scoring, settlement, Merkle trees, chain client, verification, CLI."""

__version__ = "0.1.0"
