"""Layer 1, scoring: Numerai's per-round maths on plain tables, with no chain and no storage.

``params`` (the per-round parameters), ``tables`` (the one reader of prediction and target files),
``validation`` (what makes a submission or a target table acceptable), ``metrics`` (CORR and MMC),
``payouts`` (exact integer payouts and burns) and ``pipeline`` (the whole round: tables in, scores out).
Imports nothing of ours except :mod:`oracle.errors`.
"""
