"""Alembic environment: always run programmatically by :func:`oracle.service.db.engine.migrate` on a connection it
hands over (``config.attributes["connection"]``), inside the transaction that holds the migration lock."""

from alembic import context

from oracle.service.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
