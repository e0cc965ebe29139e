"""Crime reports carry the reporting phone's idempotency key (unique): a report queued offline and sent
again after a lost answer is stored once.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crime_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=36), nullable=True))
        batch_op.create_index("uq_crime_reports_idempotency_key", ["idempotency_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("crime_reports", schema=None) as batch_op:
        batch_op.drop_index("uq_crime_reports_idempotency_key")
        batch_op.drop_column("idempotency_key")
