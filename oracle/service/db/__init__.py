"""The service's state in a real database (SQLAlchemy 2, Alembic migrations run on start): SQLite by default,
PostgreSQL for several workers or hosts. ``engine`` (URL, dialects, migrations), ``schema`` (the tables),
``ledger`` (the submission transaction: receipts, replays, the close gate, rejections), ``source`` (what the
operator snapshots a round from), ``chain_cache`` (model owners and the event cursor), ``lease`` (one scheduler)."""
