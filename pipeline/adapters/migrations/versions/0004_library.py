"""The resource library (issue 21): documents with their text, searchable in full.

PostgreSQL searches an expression GIN index of the title and text (``simple`` configuration: no stemming,
as documents mix English and Urdu); SQLite an FTS5 table kept by the store in the same transaction.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEARCH_EXPRESSION = "to_tsvector('simple', title || ' ' || body)"


def upgrade() -> None:
    op.create_table(
        "library_documents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("summary", sa.String(length=2000), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=300), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("library_documents") as batch_op:
        batch_op.create_index("ix_library_documents_category", ["category", "issued_on"], unique=False)
        batch_op.create_index("ix_library_documents_sha256", ["sha256"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX ix_library_documents_search ON library_documents USING gin ({SEARCH_EXPRESSION})"
        )
    else:
        op.execute("CREATE VIRTUAL TABLE library_fts USING fts5(title, body, tokenize='unicode61')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE library_fts")
    op.drop_table("library_documents")
