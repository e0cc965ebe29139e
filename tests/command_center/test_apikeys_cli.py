"""``safecity integrations``: register a hotel, issue, list and revoke keys, all audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from command_center.security.apikeys import ApiKeyStore
from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from safecity_cli.main import main
from tests.services import AUDIT_KEY, TEST_SECURITY


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "config.yaml"
    settings = {"environment": "test", "database_url": database_url, "security": TEST_SECURITY}
    path.write_text(yaml.safe_dump(settings))
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, object, str]:
    code = main(["integrations", argv[0], "--config", str(config), *argv[1:]])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_hotel_key_lifecycle(capsys: pytest.CaptureFixture[str], config: Path, database_url: str) -> None:
    hotel_args = [
        "--name",
        "Hotel One",
        "--licence",
        "LHR-1",
        "--address",
        "1 Mall Rd",
        "--district",
        "Lahore",
    ]
    code, hotel, _ = run(capsys, config, "add-hotel", *hotel_args, "--lat", "31.5", "--lon", "74.3")
    assert code == 0 and hotel["district"] == "Lahore" and hotel["audited"] is True  # type: ignore[index]
    hotel_id = str(hotel["id"])  # type: ignore[index]

    code, issued, err = run(capsys, config, "issue-key", hotel_id, "--label", "PMS", "--expires-days", "30")
    assert code == 0 and "shown this once" in err
    raw = issued["api_key"]  # type: ignore[index]
    engine = make_engine(database_url)
    try:
        # The CLI revokes through a store of its own (another process would): no cached key here.
        store = ApiKeyStore(engine, TEST_SECURITY["api_key_pepper"], cache_s=0)
        principal = store.verify(raw)
        assert principal is not None and principal.hotel_id == int(hotel_id)

        code, keys, _ = run(capsys, config, "list", "--hotel", hotel_id)
        assert code == 0 and [k["key_id"] for k in keys] == [issued["key_id"]]  # type: ignore[index,union-attr]
        assert raw not in json.dumps(keys)

        code, revoked, _ = run(capsys, config, "revoke", issued["key_id"])  # type: ignore[index]
        assert code == 0 and revoked["revoked_at"] is not None  # type: ignore[index]
        assert store.verify(raw) is None

        actions = [row.action for row in AuditTrail(engine, AUDIT_KEY).rows()]
        assert actions == ["integration.hotel_create", "integration.key_issue", "integration.key_revoke"]
        assert raw not in json.dumps([tuple(map(str, row)) for row in AuditTrail(engine, AUDIT_KEY).rows()])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add-hotel", "--name", "H", "--licence", "#1", "--address", "a", "--district", "D"], "reference"),
        (["add-hotel", "--name", "H", "--licence", "L1", "--address", "a", "--district", "D/1"], "district"),
        (
            [
                "add-hotel",
                "--name",
                "H",
                "--licence",
                "L1",
                "--address",
                "a",
                "--district",
                "D",
                "--lat",
                "99",
            ],
            "lat",
        ),
        (["issue-key", "999"], "no hotel"),
        (["issue-key", "1", "--expires-days", "0"], "--expires-days"),
        (["revoke", "0123456789abcdef"], "no integration key"),
        (["list", "--hotel", "999"], "no hotel"),
    ],
)
def test_refusals_are_usage_errors(
    capsys: pytest.CaptureFixture[str], config: Path, argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, config, *argv)
    assert code == 2 and message in err
