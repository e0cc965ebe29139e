"""The officer app's offline queue and case reminders (issue 21).

Arrests, missing persons and unidentified bodies carry the reporting phone's idempotency key (unique), as
crime reports do since 0005: a notification queued offline and sent again after a lost answer is stored
once. ``case_reminders`` remembers each reminder told to an investigating officer (a case left without an
update, a challan falling due), so every replica of the command centre tells it once.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

KEYED = ("arrests", "missing_persons", "udr_cases")


def upgrade() -> None:
    for table in KEYED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("idempotency_key", sa.String(length=36), nullable=True))
            batch_op.create_index(f"uq_{table}_idempotency_key", ["idempotency_key"], unique=True)
    op.create_table(
        "case_reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind", "due_at", name="uq_case_reminders_due"),
    )


def downgrade() -> None:
    op.drop_table("case_reminders")
    for table in reversed(KEYED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"uq_{table}_idempotency_key")
            batch_op.drop_column("idempotency_key")
