"""Person search by a name alone at national scale: the persons sounding like a name, newest first.

A B-tree on the name and alias keys' sorted phonetic codes and the person's id, partial to those two
fields: "every person whose name sounds exactly like this one, newest first, the first N" is read from
the index in order and stops after N, however many thousands share a common name (``records.search``).
The name ranking's ties go to the newest person, so those N hold the best answers whenever at least
``limit`` of them share the name.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "ix_cro_search_keys_name_sound"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "cro_search_keys",
        ["phonetic_sorted", "person_id"],
        postgresql_where=sa.text("field IN ('name', 'alias')"),
        sqlite_where=sa.text("field IN ('name', 'alias')"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="cro_search_keys")
