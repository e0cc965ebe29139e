"""Person search by a name alone at national scale, and misspelt words with two letters swapped.

* A B-tree on the name and alias keys' sorted phonetic codes and the person's id, partial to those two
  fields: "every person whose name sounds exactly like this one, newest first, the first N" is read
  from the index in order and stops after N, however many thousands share a common name
  (``records.search``). The ranking's ties go to the newest person, so those N hold the best answers
  whenever at least ``limit`` of them spell the name as asked.
* ``cro_name_tokens.letters``: each word's letters sorted, B-tree indexed. Two letters swapped in a
  short word ("mzahar") leave it few trigrams in common with the word meant, but the same letters.
  Backfilled here with the services' own function.

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
BATCH = 5000


def _backfill_letters(bind: sa.Connection) -> None:
    from command_center.records.keys import letters  # the services' own (only this revision needs it)

    tokens = sa.table("cro_name_tokens", sa.column("token", sa.String), sa.column("letters", sa.String))
    last = ""
    while True:
        words = (
            bind.execute(
                sa.select(tokens.c.token).where(tokens.c.token > last).order_by(tokens.c.token).limit(BATCH)
            )
            .scalars()
            .all()
        )
        if not words:
            return
        bind.execute(
            tokens.update()
            .where(tokens.c.token == sa.bindparam("word"))
            .values(letters=sa.bindparam("sorted")),
            [{"word": w, "sorted": letters(w)} for w in words],
        )
        last = words[-1]


def upgrade() -> None:
    op.create_index(
        INDEX,
        "cro_search_keys",
        ["phonetic_sorted", "person_id"],
        postgresql_where=sa.text("field IN ('name', 'alias')"),
        sqlite_where=sa.text("field IN ('name', 'alias')"),
    )
    op.add_column(
        "cro_name_tokens", sa.Column("letters", sa.String(length=64), server_default="", nullable=False)
    )
    _backfill_letters(op.get_bind())
    op.create_index("ix_cro_name_tokens_letters", "cro_name_tokens", ["letters"])


def downgrade() -> None:
    op.drop_index("ix_cro_name_tokens_letters", table_name="cro_name_tokens")
    with op.batch_alter_table("cro_name_tokens") as batch:
        batch.drop_column("letters")
    op.drop_index(INDEX, table_name="cro_search_keys")
