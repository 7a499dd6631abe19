"""A synthetic obfuscated tournament and its economics.

``data`` generates Numerai-shaped Parquet, ``participants`` are example models with stake
policies, ``engine`` runs rounds through the real scoring (``oracle.scoring``) and settlement
(``oracle.settlement``) code on a pluggable back end, ``sweep`` replays the rounds under other
payout rules, ``report`` renders the figures as one self-contained HTML file.
"""
