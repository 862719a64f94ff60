"""Idempotency keys belong to the account that sent them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

A key was unique across all cases, so an account that sent a key another account had used got
that other account's case back (or a 409 naming it): one account could read another's case by
guessing its key, and two apps that happen to pick the same key blocked each other. A key is
now unique per ``(idempotency_key, reported_by)``. Anonymous Open311 reports (``reported_by``
NULL) share one scope, hence NULLS NOT DISTINCT (PostgreSQL 15); the index is partial because
reports without a key must never conflict. The key comes first so a look-up by key alone (the
bulk import's check of a file's keys) still uses the index.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE UNIQUE INDEX uq_event_idempotency_key_reported_by
    ON event (idempotency_key, reported_by) NULLS NOT DISTINCT
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE event DROP CONSTRAINT uq_event_idempotency_key;
"""
    )


def downgrade() -> None:
    # Fails (and changes nothing) once two accounts have used the same key: going back would
    # have to drop one of their cases.
    op.execute(
        """
ALTER TABLE event ADD CONSTRAINT uq_event_idempotency_key UNIQUE (idempotency_key);
DROP INDEX uq_event_idempotency_key_reported_by;
"""
    )
