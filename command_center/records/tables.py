"""Schema of the CRO records (persons of interest) and the hotel check-in log, SQLAlchemy Core.

Nothing is deleted: a person taken off the records is archived (kept for the audit trail and past
alerts, found by no search or CNIC lookup). ``cro_search_keys`` holds one row per searchable text of a
person (name, each alias, father's name, address) with its keys from ``records.names``; it is rewritten
with the person in one transaction (``records.keys``), with a ``person`` row of all the name's and
father's name's codes. On PostgreSQL its ``canonical`` column carries a trigram (pg_trgm) GIN index and
its codes a GIN index, created by the migrations (pipeline/adapters/migrations).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from command_center.security.evidence import Source, declare
from pipeline.adapters.database import UtcDateTime, metadata

MAX_TEXT = 500
MAX_NOTES = 2000

persons = Table(
    "cro_persons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("category", String(32), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("aliases", JSON, nullable=False),
    Column("father_name", String(200), nullable=True),
    Column("address", String(MAX_TEXT), nullable=True),
    Column("cnic", String(15), nullable=True, unique=True),
    Column("gender", String(8), nullable=True),
    Column("date_of_birth", Date, nullable=True),
    Column("district", String(64), nullable=True),
    Column("watchlist_profile_id", Integer, nullable=True, index=True),
    Column("notes", Text, nullable=True),
    Column("created_by", String(300), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(300), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("archived_at", UtcDateTime(), nullable=True),
    sqlite_autoincrement=True,
)

NAME_FIELDS = "field IN ('name', 'alias')"
search_keys = Table(
    "cro_search_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", Integer, ForeignKey("cro_persons.id", ondelete="CASCADE"), nullable=False),
    Column("field", String(8), nullable=False),  # name, alias, father, address
    Column("canonical", String(MAX_TEXT), nullable=False),
    Column("phonetic", String(MAX_TEXT), nullable=False),
    Column("phonetic_sorted", String(MAX_TEXT), nullable=False),
    Column("category", String(32), nullable=False),
    Column("active", Boolean, nullable=False),
    Index("ix_cro_search_keys_person", "person_id"),
    Index("ix_cro_search_keys_phonetic_sorted", "phonetic_sorted", "field"),
    # a name's sound, newest person first, read in order and cut short (a name alone, 0010)
    Index(
        "ix_cro_search_keys_name_sound",
        "phonetic_sorted",
        "person_id",
        postgresql_where=text(NAME_FIELDS),
        sqlite_where=text(NAME_FIELDS),
    ),
)

# Every word of a name or father's name on the records with its phonetic code (``records.keys``): where
# a query's misspelt word finds the spellings that exist. Trigram GIN on ``token`` on PostgreSQL (0006).
name_tokens = Table(
    "cro_name_tokens",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("code", String(64), nullable=False),
    # its letters sorted: a transposed pair of letters keeps them ("mzahar" finds "mazhar"; 0010)
    Column("letters", String(64), nullable=False, server_default=""),
    Index("ix_cro_name_tokens_letters", "letters"),
)

photos = Table(
    "cro_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id", Integer, ForeignKey("cro_persons.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("jpeg", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("added_by", String(300), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    UniqueConstraint("person_id", "sha256", name="uq_cro_photos_person_sha"),
)

cases = Table(
    "cro_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id", Integer, ForeignKey("cro_persons.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("fir_number", String(64), nullable=False),
    Column("fir_date", Date, nullable=True),
    Column("police_station", String(200), nullable=False),
    Column("sections", JSON, nullable=False),
    Column("status", String(32), nullable=False),
    Column("court", String(200), nullable=True),
    Column("prison", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    # The investigating officer's Government ID (staff_users.government_id): told when the person of
    # an open case is arrested elsewhere. An ID, not an account id, because that is what a clerk types.
    Column("investigating_officer", String(32), nullable=True),
    Column("updated_by", String(300), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("person_id", "fir_number", "police_station", name="uq_cro_cases_fir"),
)

vehicles = Table(
    "cro_vehicles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "person_id", Integer, ForeignKey("cro_persons.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("plate", String(12), nullable=False, index=True),  # the key: A-Z 0-9
    Column("plate_display", String(24), nullable=False),
    Column("description", String(200), nullable=True),
    Column("hotlist_entry_id", Integer, nullable=True),
    Column("added_by", String(300), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    UniqueConstraint("person_id", "plate", name="uq_cro_vehicles_plate"),
)

follows = Table(
    "cro_follows",
    metadata,
    Column("person_id", Integer, ForeignKey("cro_persons.id", ondelete="CASCADE"), primary_key=True),
    Column("officer_id", Integer, primary_key=True),  # staff_users.id
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_cro_follows_officer", "officer_id"),
)

checkins = Table(
    "hotel_checkins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("hotel_id", Integer, nullable=False),
    Column("booking_ref", String(64), nullable=False),
    Column("payload_sha256", String(64), nullable=False),  # a repeat must carry the same check-in
    Column("guest_name", String(200), nullable=False),
    Column("cnic", String(15), nullable=False, index=True),
    Column("phone", String(16), nullable=True),
    Column("room", String(32), nullable=False),
    Column("guests", Integer, nullable=False),
    Column("checked_in_at", UtcDateTime(), nullable=False),
    Column("expected_checkout_at", UtcDateTime(), nullable=True),
    Column("checked_out_at", UtcDateTime(), nullable=True),
    Column("photo_jpeg", LargeBinary, nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("posted_by", String(300), nullable=False),
    # Screening (never shown to the hotel): when, what matched, which alerts it raised.
    Column("screened_at", UtcDateTime(), nullable=True),
    Column("screening", JSON, nullable=True),
    UniqueConstraint("hotel_id", "booking_ref", name="uq_hotel_checkins_booking"),
    Index("ix_hotel_checkins_hotel_time", "hotel_id", "checked_in_at"),
    Index("ix_hotel_checkins_unscreened", "screened_at"),
)

declare("checkin_photo", Source(checkins, "photo_jpeg", frozenset({"checkin_photos", "checkins"})))
declare("person_photo", Source(photos, "jpeg"))
