"""An audited change and its audit entry commit together: when the database refuses the audit entry (a real
trigger on audit_log, on SQLite and PostgreSQL), the change is not stored either and the caller gets a 503
saying nothing was done; once the audit can be written again the same request succeeds, audited. The same
holds for an administrative command (``safecity integrations add-hotel``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select, text

from command_center.records.tables import cases, persons, vehicles
from command_center.security.audit import AuditTrail
from command_center.security.permissions import Role
from pipeline.adapters.database import make_engine
from safecity_cli.main import main
from tests.command_center.helpers import Served, eventually
from tests.command_center.records_helpers import audited, checkin, client, cnic, hotel_key, person
from tests.services import TEST_SECURITY

_SQLITE = """CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log WHEN NEW.action = '{action}'
BEGIN SELECT RAISE(ABORT, 'audit entry refused by the test'); END"""
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION audit_refused() RETURNS trigger AS $$
BEGIN
  IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'audit entry refused by the test'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql"""
_PG_TRIGGER = """CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_refused('{action}')"""


@contextmanager
def audit_refuses(engine: Engine, action: str) -> Iterator[None]:
    """The database itself refuses every audit entry of ``action`` while inside."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(_SQLITE.format(action=action))
        else:
            conn.exec_driver_sql(_PG_FUNCTION)
            conn.exec_driver_sql(_PG_TRIGGER.format(action=action))
    try:
        yield
    finally:
        with engine.begin() as conn:
            extra = " ON audit_log" if engine.dialect.name == "postgresql" else ""
            conn.execute(text(f"DROP TRIGGER audit_refused{extra}"))


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


async def test_a_refused_audit_entry_rolls_the_whole_change_back(served: Served) -> None:
    engine: Engine = served.app.state.services.audit.engine
    body = person(
        "Muhammad Aslam",
        cnic=cnic().replace("-", ""),
        cases=[
            {
                "fir_number": "112/2025",
                "police_station": "PS Gulberg",
                "sections": ["302 PPC"],
                "status": "under_trial",
            }
        ],
        vehicles=[{"plate": "lea 1234", "description": "Corolla, white"}],
    )
    clerk = await client(served, Role.RECORDS_CLERK)
    async with clerk:
        with audit_refuses(engine, "persons.create"):
            refused = await clerk.post("/persons", json=body)
            assert refused.status_code == 503, refused.text
            assert "nothing was done" in refused.json()["detail"]
        # the person, its case and its vehicle were written in three steps: none of them stayed
        assert [count(engine, t) for t in (persons, cases, vehicles)] == [0, 0, 0]
        assert audited(served, "persons.create") == []
        created = await clerk.post("/persons", json=body)  # the same request, once the audit works
        assert created.status_code == 201, created.text
        assert [count(engine, t) for t in (persons, cases, vehicles)] == [1, 1, 1]
        assert audited(served, "persons.create", f"person:{created.json()['id']}")
    assert served.app.state.services.audit.verify().ok


async def test_a_hotel_check_in_is_not_kept_without_its_audit_entry(served: Served) -> None:
    engine: Engine = served.app.state.services.audit.engine
    _, key = await hotel_key(served)
    post = checkin("BK-7001", cnic().replace("-", ""))
    async with httpx.AsyncClient(base_url=served.url, timeout=15, headers={"X-API-Key": key}) as desk:
        with audit_refuses(engine, "checkins.post"):
            refused = await desk.post("/checkins", json=post)
            assert refused.status_code == 503, refused.text
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM hotel_checkins")).scalar_one() == 0
        accepted = await desk.post("/checkins", json=post)
        assert accepted.status_code == 201, accepted.text
    assert audited(served, "checkins.post", f"checkin:{accepted.json()['id']}")
    # the screening of the check-in starts only once it is committed, and finds it
    await eventually(lambda: asyncio.to_thread(_screened_at, engine, accepted.json()["id"]), within_s=30)


def _screened_at(engine: Engine, checkin_id: int) -> object:
    with engine.connect() as conn:
        query = text("SELECT screened_at FROM hotel_checkins WHERE id = :id")
        return conn.execute(query, {"id": checkin_id}).scalar()


def test_an_administrative_command_changes_nothing_when_its_audit_entry_is_refused(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"environment": "test", "database_url": database_url, "security": TEST_SECURITY})
    )
    add = ["integrations", "add-hotel", "--config", str(config), "--name", "Hotel One", "--licence", "LHR-1"]
    add += ["--address", "1 Mall Rd", "--district", "Lahore"]
    engine = make_engine(database_url)
    AuditTrail(engine, TEST_SECURITY["audit_key"].encode()).create_schema()
    assert main(["integrations", "list", "--config", str(config)]) == 0  # creates the hotels' tables
    with audit_refuses(engine, "integration.hotel_create"):
        assert main(add) == 1
        assert "nothing changed" in capsys.readouterr().err
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM hotels")).scalar_one() == 0
    assert main(add) == 0 and json.loads(capsys.readouterr().out)["audited"] is True
    engine.dispose()
