"""The resource library (the M-CCTNS "resource library"): Acts, judgments, circulars, manuals and SOPs,
uploaded by records staff and supervisors, searched in full text by every officer, and pinned for reading
offline on the officers' phones.

A document's text is extracted when it is stored (PDF pages with pypdf; plain text and Markdown as they
are) and searched by the database: PostgreSQL with ``websearch_to_tsquery`` over an expression GIN index
(``simple`` configuration: English and Urdu words alike, no stemming), SQLite with an FTS5 table that
this store keeps in the same transaction as the document. A document identical to one already stored
(same SHA-256) is refused rather than stored twice.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from command_center.records.library_tables import CATEGORIES, library_documents
from command_center.records.types import now
from pipeline.adapters import transactions
from pipeline.adapters.migrations import upgrade

MAX_BYTES = 20 * 1024 * 1024
MAX_TEXT = 2_000_000  # characters of text kept for search (a long Act's text is ~1 MB)
TEXT_TYPES = ("text/plain", "text/markdown")
PDF = "application/pdf"
MEDIA_TYPES = (PDF, *TEXT_TYPES)
_WORD = re.compile(r"\w+", re.UNICODE)


class DocumentError(ValueError):
    """A document that cannot be stored (its reason is told to the uploader)."""


class DuplicateDocumentError(DocumentError):
    def __init__(self, existing_id: int) -> None:
        super().__init__(f"the same file is already in the library as document {existing_id}")
        self.existing_id = existing_id


@dataclass(frozen=True, slots=True)
class NewDocument:
    title: str
    category: str
    issued_on: date | None
    summary: str | None
    filename: str
    media_type: str
    content: bytes
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    title: str
    category: str
    issued_on: date | None
    summary: str | None
    filename: str
    media_type: str
    size: int
    sha256: str
    pinned: bool
    uploaded_by: str
    uploaded_at: datetime
    snippet: str | None = None  # a search's context: the words found, in [brackets]


_LISTED = [c for c in library_documents.c if c.name not in ("content", "body")]


def extract_text(media_type: str, content: bytes) -> str:
    """The document's text; DocumentError if it is not a readable PDF or UTF-8 text."""
    if media_type in TEXT_TYPES:
        try:
            return content.decode("utf-8")[:MAX_TEXT]
        except UnicodeDecodeError as e:
            raise DocumentError(f"the text is not UTF-8 (byte {e.start})") from e
    if media_type != PDF:
        raise DocumentError(f"{media_type} is not a document type kept (PDF, plain text or Markdown)")
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError) as e:
        raise DocumentError(f"the PDF cannot be read: {type(e).__name__}") from e
    return "\n".join(pages)[:MAX_TEXT]


def _fts_query(words: str) -> str:
    """FTS5's query for what a person typed: every word, each quoted (no operator syntax to trip on)."""
    return " ".join(f'"{w}"' for w in _WORD.findall(words.lower()))


class LibraryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def create_schema(self) -> None:
        upgrade(self._engine)

    def add(self, new: NewDocument, actor: str) -> Document:
        if new.category not in CATEGORIES:
            raise DocumentError(f"category {new.category!r} is not one of {', '.join(CATEGORIES)}")
        if not new.content:
            raise DocumentError("the file is empty")
        if len(new.content) > MAX_BYTES:
            raise DocumentError(f"the file is {len(new.content)} bytes; at most {MAX_BYTES}")
        body = extract_text(new.media_type, new.content)
        digest = hashlib.sha256(new.content).hexdigest()
        row: dict[str, Any] = {
            **{k: getattr(new, k) for k in ("title", "category", "issued_on", "summary", "filename")},
            **{"media_type": new.media_type, "content": new.content, "pinned": new.pinned},
            **{"size": len(new.content), "sha256": digest, "body": body},
            **{"uploaded_by": actor, "uploaded_at": now()},
        }
        with transactions.begin(self._engine) as conn:
            existing = conn.execute(
                select(library_documents.c.id).where(library_documents.c.sha256 == digest)
            ).scalar()
            if existing is not None:
                raise DuplicateDocumentError(int(existing))
            inserted = conn.execute(insert(library_documents).values(row)).inserted_primary_key
            assert inserted is not None
            doc_id = int(inserted[0])
            if not self._postgres:
                conn.execute(
                    text("INSERT INTO library_fts (rowid, title, body) VALUES (:id, :title, :body)"),
                    {"id": doc_id, "title": new.title, "body": body},
                )
        found = self.get(doc_id)
        assert found is not None
        return found

    def get(self, doc_id: int) -> Document | None:
        with transactions.connect(self._engine) as conn:
            row = conn.execute(select(*_LISTED).where(library_documents.c.id == doc_id)).first()
        return Document(**row._mapping) if row is not None else None

    def content(self, doc_id: int) -> tuple[Document, bytes] | None:
        found = self.get(doc_id)
        if found is None:
            return None
        with transactions.connect(self._engine) as conn:
            data = conn.execute(
                select(library_documents.c.content).where(library_documents.c.id == doc_id)
            ).scalar_one()
        return found, bytes(data)

    def listing(
        self, category: str | None = None, pinned: bool | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Document], int]:
        """Documents, newest issue date first (undated last), and how many match."""
        c = library_documents.c
        where = [
            *([c.category == category] if category else []),
            *([c.pinned == pinned] if pinned is not None else []),
        ]
        query = select(*_LISTED).where(*where)
        order = (c.issued_on.is_(None), c.issued_on.desc(), c.id.desc())
        with transactions.connect(self._engine) as conn:
            rows = conn.execute(query.order_by(*order).limit(limit).offset(offset)).all()
            total = int(
                conn.execute(select(func.count()).select_from(library_documents).where(*where)).scalar_one()
            )
        return [Document(**r._mapping) for r in rows], total

    def search(self, words: str, category: str | None = None, limit: int = 20) -> list[Document]:
        """Documents whose title or text hold every word, best first, each with a snippet of its text."""
        with transactions.connect(self._engine) as conn:
            found = (
                self._search_postgres(conn, words, limit)
                if self._postgres
                else self._search_sqlite(conn, words, limit)
            )
        ranked = [doc_id for doc_id, _ in found]
        snippets = dict(found)
        if not ranked:
            return []
        c = library_documents.c
        where = [c.id.in_(ranked), *([c.category == category] if category else [])]
        with transactions.connect(self._engine) as conn:
            rows = {r.id: r for r in conn.execute(select(*_LISTED).where(*where)).all()}
        return [Document(**rows[i]._mapping, snippet=snippets[i]) for i in ranked if i in rows]

    @staticmethod
    def _search_postgres(conn: Connection, words: str, limit: int) -> list[tuple[int, str]]:
        rows = conn.execute(
            text(
                "SELECT id, ts_headline('simple', body, q, "
                "'StartSel=[, StopSel=], MaxWords=30, MinWords=12') "
                "FROM library_documents, websearch_to_tsquery('simple', :words) AS q "
                "WHERE to_tsvector('simple', title || ' ' || body) @@ q "
                "ORDER BY ts_rank(to_tsvector('simple', title || ' ' || body), q) DESC, id DESC LIMIT :limit"
            ),
            {"words": words, "limit": limit},
        ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    @staticmethod
    def _search_sqlite(conn: Connection, words: str, limit: int) -> list[tuple[int, str]]:
        query = _fts_query(words)
        if not query:
            return []
        rows = conn.execute(
            text(
                "SELECT rowid, snippet(library_fts, 1, '[', ']', '...', 24) FROM library_fts "
                "WHERE library_fts MATCH :q ORDER BY rank, rowid DESC LIMIT :limit"
            ),
            {"q": query, "limit": limit},
        ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    def set_pinned(self, doc_id: int, pinned: bool) -> Document | None:
        with transactions.begin(self._engine) as conn:
            done = conn.execute(
                update(library_documents).where(library_documents.c.id == doc_id).values(pinned=pinned)
            )
        return self.get(doc_id) if done.rowcount else None

    def remove(self, doc_id: int) -> Document | None:
        found = self.get(doc_id)
        if found is None:
            return None
        with transactions.begin(self._engine) as conn:
            conn.execute(delete(library_documents).where(library_documents.c.id == doc_id))
            if not self._postgres:
                conn.execute(text("DELETE FROM library_fts WHERE rowid = :id"), {"id": doc_id})
        return found
