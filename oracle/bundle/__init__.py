"""Layer 2, bundle: a round's published files, content-addressed on any fsspec URL.

``manifest`` (the canonical manifest whose keccak goes on-chain), ``store`` (the artifact store with its atomic
write, deterministic Parquet, the round bundle and its file names). Imports only scoring and settlement.
"""
