"""The resource library over HTTP: every officer reads and searches it (``library:read``); records staff,
supervisors and admins add, pin and remove documents (``library:manage``, audited).

* ``POST /library`` (multipart: ``file``, ``title``, ``category``, ``issued_on``, ``summary``, ``pinned``):
  a PDF, plain-text or Markdown document, its text extracted for search; 409 for a file already there.
* ``GET /library?category=&pinned=&limit=&offset=``: documents, newest issue first.
* ``GET /library/search?q=&category=``: documents holding every word, best first, with a snippet.
* ``GET /library/{id}``, ``GET /library/{id}/file``: a document, and its file.
* ``PATCH /library/{id}`` ``{"pinned": true}``: pinned documents are kept on officers' phones to read
  offline.
* ``DELETE /library/{id}?reason=``: removed, with the reason audited.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from command_center.api.deps import ServicesDep, require
from command_center.records.library import (
    MAX_BYTES,
    MEDIA_TYPES,
    Document,
    DocumentError,
    DuplicateDocumentError,
    LibraryStore,
    NewDocument,
)
from command_center.records.library_tables import CATEGORIES
from command_center.security.api.auditing import AuditorDep, ReasonQuery
from command_center.security.permissions import Permission
from command_center.security.principal import Principal
from pipeline.types import fields_of

router = APIRouter(prefix="/library", tags=["resource library"])

Reader = Annotated[Principal, require(Permission.LIBRARY_READ)]
Manager = Annotated[Principal, require(Permission.LIBRARY_MANAGE)]
DocumentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Document id")]
Category = Literal["act", "judgment", "circular", "manual", "sop", "other"]
assert set(CATEGORIES) == set(Category.__args__)  # type: ignore[attr-defined]


def get_library(services: ServicesDep) -> LibraryStore:
    return services.records.library


LibraryDep = Annotated[LibraryStore, Depends(get_library)]


class DocumentView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    title: str
    category: str
    issued_on: date | None
    summary: str | None
    filename: str
    media_type: str
    size: int
    sha256: str
    pinned: bool = Field(description="Kept on officers' phones to read offline")
    uploaded_by: str
    uploaded_at: datetime
    file: str = Field(description="Where the file is")
    snippet: str | None = Field(None, description="Search: the words found in context, in [brackets]")

    @classmethod
    def of(cls, doc: Document) -> DocumentView:
        return cls.model_validate({**fields_of(doc), "file": f"/library/{doc.id}/file"})


class DocumentPage(BaseModel):
    documents: list[DocumentView]
    total: int


class PinChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pinned: bool


def _media_type(upload: UploadFile) -> str:
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    name = (upload.filename or "").lower()
    if declared in MEDIA_TYPES:
        return declared
    if name.endswith(".pdf"):
        return "application/pdf"
    if name.endswith((".md", ".markdown")):
        return "text/markdown"
    if name.endswith(".txt"):
        return "text/plain"
    raise HTTPException(415, f"{declared or 'this file'} is not kept: upload a PDF, plain text or Markdown")


@router.post("", status_code=201, response_model=DocumentView)
async def add_document(
    principal: Manager,
    auditor: AuditorDep,
    library: LibraryDep,
    file: Annotated[UploadFile, File(description="PDF, plain text or Markdown")],
    title: Annotated[str, Form(min_length=3, max_length=300)],
    category: Annotated[Category, Form()],
    issued_on: Annotated[date | None, Form()] = None,
    summary: Annotated[str | None, Form(max_length=2000)] = None,
    pinned: Annotated[bool, Form()] = False,
) -> DocumentView:
    """Add a document; its text is extracted for search."""
    media_type = _media_type(file)
    content = await file.read(MAX_BYTES + 1)
    filename = (file.filename or "document")[-255:]
    new = NewDocument(title, category, issued_on, summary, filename, media_type, content, pinned)
    try:
        doc = await run_in_threadpool(library.add, new, principal.actor)
    except DuplicateDocumentError as e:
        raise HTTPException(409, str(e)) from None
    except DocumentError as e:
        raise HTTPException(422, str(e)) from None
    details = {"title": doc.title, "category": doc.category, "sha256": doc.sha256, "size": doc.size}
    await auditor.record("library.add", f"document:{doc.id}", details=details)
    return DocumentView.of(doc)


@router.get("", response_model=DocumentPage)
async def list_documents(
    _: Reader,
    library: LibraryDep,
    category: Category | None = None,
    pinned: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> DocumentPage:
    docs, total = await run_in_threadpool(library.listing, category, pinned, limit, offset)
    return DocumentPage(documents=[DocumentView.of(d) for d in docs], total=total)


@router.get("/search", response_model=list[DocumentView])
async def search_documents(
    _: Reader,
    library: LibraryDep,
    q: Annotated[str, Query(min_length=2, max_length=200, description="Words, all of which must appear")],
    category: Category | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[DocumentView]:
    """Full-text search of titles and texts (public documents: not audited as a record search is)."""
    docs = await run_in_threadpool(library.search, q, category, limit)
    return [DocumentView.of(d) for d in docs]


async def _found(library: LibraryStore, doc_id: int) -> Document:
    doc = await run_in_threadpool(library.get, doc_id)
    if doc is None:
        raise HTTPException(404, f"no document {doc_id}")
    return doc


@router.get("/{doc_id}", response_model=DocumentView)
async def get_document(_: Reader, library: LibraryDep, doc_id: DocumentId) -> DocumentView:
    return DocumentView.of(await _found(library, doc_id))


@router.get("/{doc_id}/file", response_class=Response)
async def document_file(_: Reader, library: LibraryDep, doc_id: DocumentId) -> Response:
    found = await run_in_threadpool(library.content, doc_id)
    if found is None:
        raise HTTPException(404, f"no document {doc_id}")
    doc, data = found
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in doc.filename)
    headers = {
        "Content-Disposition": f'inline; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=86400",  # pinned documents are read offline
    }
    media_type = f"{doc.media_type}; charset=utf-8" if doc.media_type.startswith("text/") else doc.media_type
    return Response(data, media_type=media_type, headers=headers)


@router.patch("/{doc_id}", response_model=DocumentView)
async def pin_document(
    _: Manager, auditor: AuditorDep, library: LibraryDep, doc_id: DocumentId, body: PinChange
) -> DocumentView:
    doc = await run_in_threadpool(library.set_pinned, doc_id, body.pinned)
    if doc is None:
        raise HTTPException(404, f"no document {doc_id}")
    await auditor.record("library.pin", f"document:{doc_id}", details={"pinned": body.pinned})
    return DocumentView.of(doc)


@router.delete("/{doc_id}", response_model=DocumentView)
async def remove_document(
    _: Manager, auditor: AuditorDep, library: LibraryDep, doc_id: DocumentId, reason: ReasonQuery
) -> DocumentView:
    doc = await run_in_threadpool(library.remove, doc_id)
    if doc is None:
        raise HTTPException(404, f"no document {doc_id}")
    await auditor.record(
        "library.remove",
        f"document:{doc_id}",
        details={"title": doc.title, "sha256": doc.sha256},
        reason=reason,
    )
    return DocumentView.of(doc)
