"""Bulk import of CRO persons, a batch at a time, resumable, with a reason for every row left out.

Each batch (``write``) is one transaction: the persons with their cases, vehicles and photos, the watchlist
profiles enrolled from their photos, and one audit entry (``persons.import``, target
``persons_import:<file key>``) naming the rows it covered and the persons it created. That entry is the
checkpoint: ``done_through`` reads the last row of the last committed batch of the same file (its key is
the hash of its content), so an import stopped anywhere (a crash, Ctrl-C, ``--limit``) continues after it
and never writes a row twice. A CNIC already on the records (or twice in the file) leaves its row out.

A row's photo is stored on the person's record and, when it shows one clear face, enrolled on the camera
watchlist as the person's profile (``watchlist.enrol.Enroller``, the administrative path: active at once,
audited in the batch's entry with its legal basis). A photo that cannot be used leaves the person in,
without a profile, and says why. A batch's photos are read, decoded and their faces embedded several at
once (``recognition.enrol_threads``, watchlist/enrol_pool.py) before its transaction begins, so the
database lock is held only for the writes; the batch's profiles are stored together
(``Enroller.enrol_many``: multi-row inserts, each watch list recalibrated once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from command_center.records import bulk_store
from command_center.records.api.person_views import PersonCreate
from command_center.records.bulk_store import NewPerson, StoredPhoto
from command_center.records.import_rows import ImportRow, RowProblem
from command_center.records.types import CaseFields, PersonFields, now
from command_center.security import evidence
from command_center.security.audit import AuditTrail
from command_center.security.users import UserStore
from pipeline.adapters import transactions
from pipeline.contracts import WatchlistChange
from pipeline.settings import Settings
from watchlist.enrol import Enroller, EnrolmentError
from watchlist.enrol import Enrolment as ProfileEnrolment
from watchlist.enrol_pool import PreparePool
from watchlist.governance import LegalBasis
from watchlist.photos import PhotoError, decode_photo, encode_jpeg
from watchlist.store import NewPhoto
from watchlist.tables import MAX_REFERENCE_LENGTH

ACTION = "persons.import"
# The watchlist's name for a CRO category where the two differ.
WATCHLIST_CATEGORY = {"hbt_offender": "hbt"}


def file_key(path: Path) -> str:
    """The key of an import file: the SHA-256 of its content (the same file resumes, an edited one not)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Enrolment:
    """How photos become watchlist profiles: who authorised it, on what basis, until when."""

    make_enroller: Callable[[Engine], Enroller]  # on this engine: its writes join the batch's transaction
    legal_reference: str
    authorised_by: str
    expires_at: datetime


@dataclass(slots=True)
class BatchResult:
    first: int
    through: int
    person_ids: list[int] = field(default_factory=list)
    skipped: list[RowProblem] = field(default_factory=list)  # rows left out
    notes: list[RowProblem] = field(default_factory=list)  # rows imported, with something to say
    enrolled: int = 0
    changes: list[WatchlistChange] = field(default_factory=list)  # to announce once committed


Loaded = tuple[StoredPhoto, NewPhoto | EnrolmentError | None] | PhotoError
"""A row's photo as stored on the record and its face ready to enrol (None: not enrolling), or why the
photo cannot be used at all."""

Faces = list[tuple[int, NewPerson, ProfileEnrolment]]
"""A batch's faces waiting to be enrolled: the row's number, its person and the profile to enrol."""


class PersonImport:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        actor: str,
        key: str,
        file_name: str,
        photos_dir: Path | None,
        enrolment: Enrolment | None,
    ) -> None:
        self.engine = engine
        self._settings = settings
        self._trail = AuditTrail.of(engine, settings)
        self._users = UserStore(engine)
        self._actor = actor
        self._key = key
        self._file_name = file_name[:200]
        self._photos_dir = photos_dir
        self._enrolment = enrolment
        self._enroller: Enroller | None = None
        self._officers: dict[str, bool] = {}
        self._pool = PreparePool(settings.recognition.enrol_threads)

    @property
    def target(self) -> str:
        return f"persons_import:{self._key}"

    def create_schema(self) -> None:
        self._trail.create_schema()

    def close(self) -> None:
        """Stop the threads that prepare photos (they start again if another batch is written)."""
        self._pool.close()

    def done_through(self) -> int:
        """The last row of this file already imported (0: none)."""
        entries = self._trail.query(action=ACTION, target=self.target, limit=1)
        return int(entries[0].details.get("through", 0)) if entries else 0

    def write(
        self,
        rows: Sequence[ImportRow | RowProblem],
        through: int,
        within: Callable[[BatchResult], None] | None = None,
    ) -> BatchResult:
        """Write one batch (rows up to and including row ``through``) and its audit entry together;
        ``within(result)`` runs in the same transaction (a job's progress: it commits with the batch)."""
        result = BatchResult(first=rows[0].number if rows else through, through=through)
        loaded = self._load_photos(rows)
        with self._trail.unit() as unit:
            unit.connection()  # the chain's lock first (SQLite: the write lock), as audited changes do
            good = self._admissible(rows, result)
            faces: Faces = []
            people = [self._staged(row, result, loaded.get(row.number), faces) for row in good]
            self._enrol_all(faces, result)
            stamp = now()
            with transactions.begin(self.engine) as conn:
                inserted = bulk_store.insert_persons(conn, people, self._actor, stamp)
            result.person_ids = inserted.person_ids
            self._trail.record(self._actor, ACTION, self.target, details=self._details(result, inserted))
            if within is not None:
                within(result)
        return result

    def _admissible(self, rows: Sequence[ImportRow | RowProblem], result: BatchResult) -> list[ImportRow]:
        """The rows that can go in; the others, with their reason, into ``result.skipped``."""
        candidates = [r for r in rows if isinstance(r, ImportRow)]
        result.skipped.extend(r for r in rows if isinstance(r, RowProblem))
        with transactions.connect(self.engine) as conn:
            taken = bulk_store.existing_cnics(conn, [r.person.cnic for r in candidates if r.person.cnic])
        good: list[ImportRow] = []
        for row in candidates:
            reason = self._refusal(row.person, taken)
            if reason is not None:
                result.skipped.append(RowProblem(row.number, reason))
                continue
            if row.person.cnic:
                taken[row.person.cnic] = -row.number
            good.append(row)
        result.skipped.sort(key=lambda p: p.number)
        return good

    def _refusal(self, person: PersonCreate, taken: dict[str, int]) -> str | None:
        if person.cnic and person.cnic in taken:
            holder = taken[person.cnic]
            where = f"person {holder}" if holder > 0 else f"row {-holder} of this file"
            return f"CNIC {person.cnic} is already on the records ({where})"
        for case in person.cases:
            officer = case.investigating_officer
            if officer is not None and not self._is_officer(officer):
                return f"cases: investigating_officer: no staff account with Government ID {officer}"
        return None

    def _is_officer(self, government_id: str) -> bool:
        if government_id not in self._officers:
            self._officers[government_id] = self._users.by_government_id(government_id) is not None
        return self._officers[government_id]

    def _load_photos(self, rows: Sequence[ImportRow | RowProblem]) -> dict[int, Loaded]:
        """Each photo row's photo read, decoded and re-encoded, and its face prepared, several at once."""
        named = [(r.number, str(r.photo)) for r in rows if isinstance(r, ImportRow) and r.photo is not None]
        if self._enrolment is not None and self._enroller is None and named:
            self._enroller = self._enrolment.make_enroller(self.engine)
        outcomes = self._pool.stream(self._load_photo, [name for _, name in named])
        return {number: outcome for (number, _), outcome in zip(named, outcomes, strict=True)}

    def _load_photo(self, name: str) -> tuple[StoredPhoto, NewPhoto | EnrolmentError | None]:
        """(thread-safe) The stored photo, raising PhotoError, and its face or why it is not enrolled;
        the face is found in the image decoded for the stored copy, not decoded again."""
        data = self._read_photo(name)
        limits = self._settings.records
        image = decode_photo(name, data, limits.max_photo_bytes, limits.max_photo_pixels)
        photo = StoredPhoto(encode_jpeg(image), int(image.shape[1]), int(image.shape[0]))
        if self._enroller is None:
            return photo, None
        watchlist = self._settings.watchlist  # its own limits: checked by decoding again where exceeded
        within = (
            image.size // 3 <= watchlist.max_photo_pixels and len(photo.jpeg) <= watchlist.max_photo_bytes
        )
        try:
            return photo, self._enroller.prepare(name, photo.jpeg, image if within else None)
        except EnrolmentError as exc:
            return photo, exc

    def _staged(self, row: ImportRow, result: BatchResult, loaded: Loaded | None, faces: Faces) -> NewPerson:
        body = row.person
        data = body.model_dump(exclude={"cases", "vehicles"})
        fields = PersonFields(**{**data, "aliases": tuple(body.aliases)})
        cases = [CaseFields(**{**c.model_dump(), "sections": tuple(c.sections)}) for c in body.cases]
        vehicles = [(v.key(), v.plate, v.description) for v in body.vehicles]
        person = NewPerson(fields, cases, vehicles)
        if row.photo is not None and loaded is not None:
            self._attach_photo(row, person, result, loaded, faces)
        return person

    def _attach_photo(
        self, row: ImportRow, person: NewPerson, result: BatchResult, loaded: Loaded, faces: Faces
    ) -> None:
        """Store the photo on the record; its face, if usable, waits in ``faces`` for the batch's
        enrolment (``_enrol_all``)."""
        name = str(row.photo)
        if isinstance(loaded, PhotoError):
            result.notes.append(RowProblem(row.number, f"imported without a photo: {loaded}"))
            return
        person.photo, face = loaded
        if face is None:
            return
        if isinstance(face, EnrolmentError):
            result.notes.append(RowProblem(row.number, f"imported, photo not on the watchlist: {face}"))
            return
        faces.append((row.number, person, self._profile(row.person, name, face)))

    def _enrol_all(self, faces: Faces, result: BatchResult) -> None:
        """The batch's faces enrolled as watchlist profiles together (one statement per table, the
        lists recalibrated once: ``Enroller.enrol_many``), each person given its profile."""
        if not faces:
            return
        assert self._enroller is not None
        outcomes = self._enroller.enrol_many([profile for _, _, profile in faces], self._actor)
        for (number, person, _), outcome in zip(faces, outcomes, strict=True):
            if isinstance(outcome, EnrolmentError):
                result.notes.append(RowProblem(number, f"imported, photo not on the watchlist: {outcome}"))
                continue
            person.fields = replace(person.fields, watchlist_profile_id=outcome.profile_id)
            result.enrolled += 1
            if outcome.change is not None:
                result.changes.append(outcome.change)
        result.notes.sort(key=lambda p: p.number)

    def _read_photo(self, name: str) -> bytes:
        if self._photos_dir is None:
            raise PhotoError(name, "no photos directory given (--photos)")
        if Path(name).name != name:
            raise PhotoError(name, "a photo is named by its file name alone")
        try:
            return (self._photos_dir / name).read_bytes()
        except OSError as exc:
            raise PhotoError(name, f"cannot be read ({exc.strerror})") from None

    def _profile(self, person: PersonCreate, name: str, face: NewPhoto) -> ProfileEnrolment:
        enrolment = self._enrolment
        assert enrolment is not None
        reference = enrolment.legal_reference
        if person.cases:
            reference = f"FIR {person.cases[0].fir_number} PS {person.cases[0].police_station}"
        basis = LegalBasis(reference[:MAX_REFERENCE_LENGTH], enrolment.authorised_by, enrolment.expires_at)
        category = WATCHLIST_CATEGORY.get(person.category, person.category)
        return ProfileEnrolment(person.name, category, [(name, face.original)], basis, prepared=[face])

    def _details(self, result: BatchResult, inserted: bulk_store.Inserted) -> dict[str, Any]:
        details: dict[str, Any] = {"file": self._file_name, "first": result.first, "through": result.through}
        details |= {"imported": len(inserted.person_ids), "skipped": len(result.skipped)}
        details |= {"person_ids": inserted.person_ids, "enrolled": result.enrolled}
        details["watchlist_profiles"] = [c.profile_id for c in result.changes]
        return details | evidence.stored("person_photo", *inserted.photos)


Batch = list[ImportRow | RowProblem]


def batches(rows: Iterable[ImportRow | RowProblem], size: int, photo_size: int) -> Iterator[Batch]:
    """The rows in batches of ``size`` rows, or fewer when ``photo_size`` of them carry a photo (a photo
    costs a decode, a face detection and an enrolment: a batch of them must stay short)."""
    batch: Batch = []
    photos = 0
    for row in rows:
        batch.append(row)
        photos += isinstance(row, ImportRow) and row.photo is not None
        if len(batch) >= size or photos >= photo_size:
            yield batch
            batch, photos = [], 0
    if batch:
        yield batch


def report_lines(result: BatchResult) -> list[tuple[int, str, str]]:
    """The error report's lines of a batch, by row: (row, "skipped" | "imported", reason)."""
    lines = [(p.number, "skipped", p.reason) for p in result.skipped]
    lines += [(p.number, "imported", p.reason) for p in result.notes]
    return sorted(lines)
