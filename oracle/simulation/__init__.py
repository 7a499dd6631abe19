"""A synthetic obfuscated tournament and its economics.

``data`` generates Numerai-shaped Parquet, ``participants`` are example models with stake
policies, ``engine`` runs rounds through the real scoring (``oracle.scoring``) and settlement
(``oracle.settlement``) code on a pluggable back end, ``baseline`` replays a run under a no-stake
leaderboard prize, ``claims`` measures the mechanism's four claims on a run and judges them across
seeds, ``seeds`` runs one configuration over many seeds in worker processes, ``sweep`` replays the
rounds under other payout rules, ``report`` renders it all as one self-contained HTML file.
"""
