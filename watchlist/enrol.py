"""Enrolment: photos in, one profile with one embedding per photo out, all or nothing.

Every photo must show exactly one face, at least ``recognition.enrol_min_face_px`` on its shorter side.
If any photo is refused, nothing is stored and ``EnrolmentError`` names the photo and the reason.

``propose`` stores a ``pending_add`` profile that a second person must approve (``watchlist.review``);
``enrol`` and ``remove`` are the administrative bootstrap path (CLI, demo) that acts at once: the
caller names who acted and is responsible for auditing it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.contracts import WatchlistChange
from pipeline.face import FaceAnalyzer
from pipeline.settings import Settings
from pipeline.types import Image
from watchlist.enrol_face import locate_faces, locate_faces_in
from watchlist.enrol_pool import PreparePool
from watchlist.governance import InvalidProfileError, LegalBasis, Status
from watchlist.lists import WatchLists
from watchlist.matcher import Match, WatchlistMatcher
from watchlist.photos import PhotoError, crop_with_margin, decode_photo, encode_jpeg
from watchlist.store import NewPhoto, WatchlistStore, validate_category, validate_name
from watchlist.store_many import ProfileToAdd, add_profiles
from watchlist.types import AddedProfile

MAX_PHOTOS = 20
CROP_MARGIN = 0.25


class EnrolmentError(PhotoError):
    """A photo (or the request) refused at enrolment; nothing was stored."""


@dataclass(frozen=True, slots=True)
class EnrolResult:
    profile_id: int
    name: str
    category: str
    photo_ids: list[int]
    embedding_ids: list[int]
    revision: int
    status: Status
    change: WatchlistChange | None  # ready to publish with watchlist.announce; None while pending
    lists: list[int]  # the watch lists it joined


@dataclass(frozen=True, slots=True)
class Enrolment:
    """One profile of ``Enroller.enrol_many``; ``prepared``: its photos already through ``prepare``."""

    name: str
    category: str
    photos: Sequence[tuple[str, bytes]]
    basis: LegalBasis
    lists: Sequence[int] | None = None
    prepared: Sequence[NewPhoto] | None = None


@dataclass(frozen=True, slots=True)
class FaceMatches:
    """One face found in a probe photo and the watchlist profiles closest to it."""

    box: tuple[float, float, float, float]
    detector_score: float
    matches: list[Match]


class Enroller:
    def __init__(
        self,
        settings: Settings,
        analyzer: FaceAnalyzer,
        store: WatchlistStore,
        matcher: WatchlistMatcher | None = None,
        lists: WatchLists | None = None,
    ) -> None:
        """``matcher``, if given, is kept current by ``enrol`` and used by ``match_photo``; otherwise
        ``match_photo`` loads a fresh one from the store on each call (fine for the CLI). ``lists``
        recalibrates the watch lists a profile joins or leaves (built from the settings if not given)."""
        self._settings = settings
        self._analyzer = analyzer
        self._store = store
        self._matcher = matcher
        self._lists = lists
        self.pool = PreparePool(settings.recognition.enrol_threads)
        self._defaults_ready = False  # lists are archived, never deleted: once there, always there

    @property
    def lists(self) -> WatchLists:
        if self._lists is None:
            self._lists = WatchLists.open(self._store, self._settings)
        return self._lists

    def _ensure_lists(self) -> None:
        if not self._defaults_ready:
            self.lists.ensure_defaults()
            self._defaults_ready = True

    def _decode(self, name: str, data: bytes) -> npt.NDArray[np.uint8]:
        limits = self._settings.watchlist
        return decode_photo(name, data, limits.max_photo_bytes, limits.max_photo_pixels)

    def prepare(self, name: str, data: bytes, image: Image | None = None) -> NewPhoto:
        """A photo's face found, checked and embedded, ready to store (thread-safe, no database work);
        raises EnrolmentError saying why the photo is refused. ``image``: ``data`` already decoded at
        full size (by a caller that needed it anyway), not decoded again."""
        try:
            if image is None:
                located = locate_faces(self._analyzer, self._settings, name, data)
            else:
                located = locate_faces_in(self._analyzer, self._settings, image)
        except PhotoError as exc:
            raise EnrolmentError(exc.photo, exc.reason) from None
        detections = located.detections
        if len(detections) == 0:
            raise EnrolmentError(name, "no face found")
        if len(detections) > 1:
            raise EnrolmentError(
                name, f"{len(detections)} faces found; an enrolment photo must show one person"
            )
        side = located.sides[0]
        minimum = self._settings.recognition.enrol_min_face_px
        if side < minimum:
            raise EnrolmentError(name, f"the face is {side:.0f} px; at least {minimum} px is needed")
        embedding = self._analyzer.embed(located.image, detections)[0]
        box = tuple(float(v) for v in detections.boxes[0])
        crop = crop_with_margin(located.image, (box[0], box[1], box[2], box[3]), CROP_MARGIN)
        return NewPhoto(
            original=data,
            crop_jpeg=encode_jpeg(crop),
            width=located.width,
            height=located.height,
            embedding=embedding,
        )

    def prepare_each(self, photos: Iterable[tuple[str, bytes]]) -> Iterator[NewPhoto | EnrolmentError]:
        """``prepare`` of each photo, several at once (``recognition.enrol_threads``), in order; a refused
        photo's EnrolmentError in its place."""
        for outcome in self.pool.stream(lambda photo: self.prepare(*photo), photos):
            yield outcome if not isinstance(outcome, PhotoError) else _refusal(outcome)

    def _prepare_all(self, photos: Sequence[tuple[str, bytes]]) -> list[NewPhoto]:
        """Every photo of one profile prepared; the first refusal (in photo order) raised."""
        if len(photos) == 1:
            return [self.prepare(*photos[0])]
        prepared = []
        for outcome in self.prepare_each(photos):
            if isinstance(outcome, EnrolmentError):
                raise outcome
            prepared.append(outcome)
        return prepared

    def propose(
        self,
        name: str,
        category: str,
        photos: Sequence[tuple[str, bytes]],
        basis: LegalBasis,
        proposed_by: str,
        lists: Sequence[int] | None = None,
    ) -> EnrolResult:
        """Store a ``pending_add`` profile: it matches nothing until a second person approves it. It
        joins ``lists`` (watch list ids), or by default the list that takes its category."""
        return self._store_profile(name, category, photos, basis, proposed_by, None, lists)

    def enrol(
        self,
        name: str,
        category: str,
        photos: Sequence[tuple[str, bytes]],
        basis: LegalBasis,
        actor: str,
        lists: Sequence[int] | None = None,
        prepared: Sequence[NewPhoto] | None = None,
    ) -> EnrolResult:
        """Store an active profile at once, bypassing four-eyes (administrative bootstrap path).
        ``prepared``: the photos already through ``prepare``/``prepare_each`` (a bulk import)."""
        return self._store_profile(name, category, photos, basis, actor, actor, lists, prepared)

    def _store_profile(
        self,
        name: str,
        category: str,
        photos: Sequence[tuple[str, bytes]],
        basis: LegalBasis,
        proposed_by: str,
        approved_by: str | None,
        lists: Sequence[int] | None,
        ready: Sequence[NewPhoto] | None = None,
    ) -> EnrolResult:
        """Validate every field and photo, then store; raises EnrolmentError (nothing stored) on refusal."""
        name, category, basis = _validated(name, category, basis, len(photos))
        if ready is not None and len(ready) != len(photos):
            raise ValueError(f"{len(ready)} prepared photos for {len(photos)} photos")
        prepared = list(ready) if ready is not None else self._prepare_all(photos)
        self._ensure_lists()  # before the profile joins the list of its category
        try:
            added = self._store.add_profile(
                name,
                category,
                prepared,
                self._analyzer.embedder_model,
                basis=basis,
                proposed_by=proposed_by,
                approved_by=approved_by,
                lists=lists,
                recalibrate=self.lists.recalibrate_in,
            )
        except InvalidProfileError as exc:
            raise EnrolmentError(None, str(exc)) from None
        return self._result(name, category, basis, prepared, added)

    def enrol_many(self, enrolments: Sequence[Enrolment], actor: str) -> list[EnrolResult | EnrolmentError]:
        """Active profiles stored at once (administrative path, as ``enrol``), all in one transaction
        (``watchlist.store_many``): a bulk import's group. Each refused enrolment's EnrolmentError is in
        its place and the others are stored; an error of the group itself (an unknown list) is raised,
        and then nothing is stored."""
        outcomes: list[EnrolResult | EnrolmentError | None] = [None] * len(enrolments)
        ready: list[tuple[int, ProfileToAdd]] = []
        for at, item in enumerate(enrolments):
            try:
                name, category, basis = _validated(item.name, item.category, item.basis, len(item.photos))
                if item.prepared is not None and len(item.prepared) != len(item.photos):
                    raise ValueError(f"{len(item.prepared)} prepared photos for {len(item.photos)} photos")
                photos = list(item.prepared) if item.prepared is not None else self._prepare_all(item.photos)
            except EnrolmentError as exc:
                outcomes[at] = exc
                continue
            ready.append((at, ProfileToAdd(name, category, photos, basis, item.lists)))
        if ready:
            self._ensure_lists()
            try:
                added = add_profiles(
                    self._store,
                    [p for _, p in ready],
                    self._analyzer.embedder_model,
                    proposed_by=actor,
                    approved_by=actor,
                    recalibrate=self.lists.recalibrate_in,
                )
            except InvalidProfileError as exc:
                raise EnrolmentError(None, str(exc)) from None
            for (at, p), stored in zip(ready, added, strict=True):
                outcomes[at] = self._result(p.name, p.category, p.basis, p.photos, stored)
        return [o for o in outcomes if o is not None]

    def _result(
        self, name: str, category: str, basis: LegalBasis, photos: Sequence[NewPhoto], added: AddedProfile
    ) -> EnrolResult:
        """The stored profile's result; an active one's change applied to the matcher, ready to publish."""
        change = None
        if added.status is Status.ACTIVE:
            change = WatchlistChange(
                action="upsert",
                profile_id=added.profile_id,
                name=name,
                category=category,
                embedding_ids=added.embedding_ids,
                embeddings=[p.embedding.astype(float).tolist() for p in photos],
                revision=added.revision,
                expires_at=basis.expires_at,
                lists=added.lists,
            )
            if self._matcher is not None:
                self._matcher.apply(change)
        return EnrolResult(
            added.profile_id,
            name,
            category,
            added.photo_ids,
            added.embedding_ids,
            added.revision,
            added.status,
            change,
            added.lists,
        )

    def remove(self, profile_id: int, actor: str, reason: str) -> WatchlistChange:
        """Remove an entry at once (administrative path); returns the change to publish.
        Raises ProfileNotFoundError, InvalidProfileError (reason too short)."""
        removed = self._store.remove_profile(profile_id, actor, reason, self.lists.recalibrate_in)
        change = WatchlistChange(
            action="remove",
            profile_id=profile_id,
            embedding_ids=removed.embedding_ids,
            revision=removed.revision,
        )
        if self._matcher is not None:
            self._matcher.apply(change)
        return change

    def match_photo(self, data: bytes, top_k: int | None = None, name: str = "photo") -> list[FaceMatches]:
        """Every face in the photo with its closest profiles. Raises PhotoError for an unusable photo."""
        image = self._decode(name, data)
        detections, embeddings = self._analyzer.analyse(image)
        matcher = self._matcher
        if matcher is None:
            matcher = WatchlistMatcher(self._settings)
            matcher.load(self._store)
        results = matcher.match(embeddings, top_k)
        return [
            FaceMatches(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                detector_score=float(score),
                matches=matches,
            )
            for b, score, matches in zip(detections.boxes, detections.scores, results, strict=True)
        ]


def _refusal(error: PhotoError) -> EnrolmentError:
    return error if isinstance(error, EnrolmentError) else EnrolmentError(error.photo, error.reason)


def _validated(name: str, category: str, basis: LegalBasis, photos: int) -> tuple[str, str, LegalBasis]:
    """A profile's name, category and legal basis as stored, or EnrolmentError saying what is wrong."""
    try:
        name = validate_name(name)
        category = validate_category(category)
        basis = basis.validated()
    except InvalidProfileError as exc:
        raise EnrolmentError(None, str(exc)) from None
    if not photos:
        raise EnrolmentError(None, "at least one photo is needed")
    if photos > MAX_PHOTOS:
        raise EnrolmentError("(request)", f"{photos} photos given; at most {MAX_PHOTOS} per enrolment")
    return name, category, basis
