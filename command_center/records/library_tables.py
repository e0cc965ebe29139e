"""Schema of the resource library: Acts, judgments, circulars, manuals and SOPs officers read, with their
text for full-text search (a GIN index on PostgreSQL, an FTS5 table on SQLite, both made by the migration)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, Integer, LargeBinary, String, Table, Text, false

from pipeline.adapters.database import UtcDateTime, metadata

CATEGORIES = ("act", "judgment", "circular", "manual", "sop", "other")

library_documents = Table(
    "library_documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),
    Column("category", String(16), nullable=False),
    Column("issued_on", Date(), nullable=True),
    Column("summary", String(2000), nullable=True),
    Column("filename", String(255), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("body", Text, nullable=False),  # the document's text, as extracted (searched)
    Column("pinned", Boolean, nullable=False, server_default=false()),  # kept on officers' phones
    Column("uploaded_by", String(300), nullable=False),
    Column("uploaded_at", UtcDateTime(), nullable=False),
    Index("ix_library_documents_category", "category", "issued_on"),
    Index("ix_library_documents_sha256", "sha256", unique=True),
)
