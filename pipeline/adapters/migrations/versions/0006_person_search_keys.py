"""Person search at national scale: the name vocabulary, each person's combined codes, Urdu-script names.

* ``cro_name_tokens`` (every word of a name or father's name with its phonetic code), with a trigram
  GIN index on PostgreSQL: a query's misspelt word finds the spellings on the records;
* every person's search keys rewritten (``command_center.records.keys``): a ``person`` row of all the
  name's and father's name's codes (searched through the existing GIN index of the codes), and the
  keys of names written in Urdu script, which the keys before this revision dropped (they folded a
  name to ASCII), transliterated (``command_center.records.urdu``);
* PostgreSQL: pg_trgm must be available (``CREATE EXTENSION IF NOT EXISTS pg_trgm``); without it the
  migration stops and says what to install, rather than leave person search reading every row.

The backfill reads the persons in batches of ``BATCH`` by id and writes their keys with the code the
services use, so a backfilled key is the key a new write would make.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5000


def _require_pg_trgm(bind: sa.Connection) -> None:
    available = bind.execute(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    if not available:
        raise RuntimeError(
            "PostgreSQL's pg_trgm extension is not installed on the database server; person search "
            "needs its trigram indexes. Install the server's contrib package (Debian: "
            "postgresql-contrib, or postgresql-<version> which includes it) and run `safecity db upgrade` "
            "again."
        )
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def _backfill(bind: sa.Connection) -> None:
    # The services' own key code (imported here, not at module level: only this revision needs it).
    from command_center.records import tables as t
    from command_center.records.keys import insert_keys, key_rows
    from command_center.records.types import PersonFields

    p = t.persons.c
    last = 0
    while True:
        rows = bind.execute(
            sa.select(p.id, p.category, p.name, p.aliases, p.father_name, p.address, p.archived_at)
            .where(p.id > last)
            .order_by(p.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        ids = [r.id for r in rows]
        bind.execute(sa.delete(t.search_keys).where(t.search_keys.c.person_id.in_(ids)))
        keys = []
        for r in rows:
            fields = PersonFields(
                category=r.category,
                name=r.name,
                aliases=tuple(r.aliases or ()),
                father_name=r.father_name,
                address=r.address,
            )
            keys += key_rows(r.id, fields, r.archived_at is None)
        insert_keys(bind, keys, token_columns=("token", "code"))  # 0010 adds and fills ``letters``
        last = ids[-1]


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _require_pg_trgm(bind)
    op.create_table(
        "cro_name_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    if postgres:
        op.execute("CREATE INDEX ix_cro_name_tokens_trgm ON cro_name_tokens USING gin (token gin_trgm_ops)")
    _backfill(bind)


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM cro_search_keys WHERE field = 'person'"))
    op.drop_table("cro_name_tokens")
