"""Tokens can be revoked: a password change ends every token issued before it, a sign-out
ends its own session.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

Tokens are signed (JWT) and checked without a database look-up, so they lived until they
expired: 12 hours after a sign-out or a password change. ``app_user.tokens_valid_after``
(whole seconds, as a token's ``iat``) refuses every token of the account issued before it;
``revoked_session`` lists the browser sessions signed out, by their ``jti``, until they would
have expired anyway.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
ALTER TABLE app_user ADD COLUMN tokens_valid_after timestamptz;
CREATE TABLE revoked_session (
    jti text NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT pk_revoked_session PRIMARY KEY (jti)
);
CREATE INDEX ix_revoked_session_expires_at ON revoked_session (expires_at);
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE revoked_session; ALTER TABLE app_user DROP COLUMN tokens_valid_after;")
