"""`safecity watchlists ...` through the real entry point, on both databases: audited, announced, refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from command_center.security.audit import AuditTrail
from pipeline.adapters.database import make_engine
from tests.services import AUDIT_KEY
from tests.watchlist.conftest import OBAMA_ENROL
from tests.watchlist.test_cli import LEGAL, _run

WHY = ("--reason", "Standing order 7/2026", "--by", "staff:3:supervisor")


def _list(capsys: pytest.CaptureFixture[str], config: Path, name: str) -> dict[str, Any]:
    code, lists, _ = _run(capsys, config, "watchlists", "list")
    assert code == 0 and isinstance(lists, list)
    return next(w for w in lists if w["name"] == name)


def test_create_change_and_fill_a_list_from_the_command_line(
    cli_env: Path, capsys: pytest.CaptureFixture[str], faces_dir: Path, database_url: str
) -> None:
    code, created, err = _run(
        capsys, cli_env, "watchlists", "create", "--name", "Car thieves", "--purpose", "wanted",
        "--mode", "live", "--priority", "2", "--district", "south", *WHY,
    )  # fmt: skip
    assert code == 0, err
    assert created["live"] and created["districts"] == ["south"] and created["audited"]
    lid = created["id"]

    photos = [str(faces_dir / "obama" / name) for name in OBAMA_ENROL]
    code, enrolled, err = _run(
        capsys, cli_env, "watchlist", "enroll", "--name", "Barack Obama", "--category", "history_sheeter",
        "--list", str(lid), *LEGAL, *photos,
    )  # fmt: skip
    assert code == 0, err
    assert enrolled["lists"] == [lid]
    assert _list(capsys, cli_env, "Car thieves")["gallery_size"] == 3

    code, changed, err = _run(
        capsys, cli_env, "watchlists", "set", str(lid), "--threshold-floor", "0.6", *WHY
    )
    assert code == 0 and changed["threshold"] == 0.6, err
    code, preview, _ = _run(capsys, cli_env, "watchlists", "calibrate", str(lid), "--gallery", "10", "100000")
    assert code == 0 and [s["gallery"] for s in preview["sizes"]] == [10, 100000]
    assert preview["sizes"][0]["threshold"] == 0.6  # the raised floor holds at any size

    wanted = _list(capsys, cli_env, "Wanted")["id"]
    code, added, err = _run(
        capsys, cli_env, "watchlists", "add", str(wanted), str(enrolled["profile_id"]), *WHY
    )
    assert code == 0 and added["members"] == 1, err

    trail = AuditTrail(make_engine(database_url), AUDIT_KEY).query(
        None, None, f"watch_list:{lid}", None, None, limit=10
    )
    assert {e.action for e in trail} >= {"watchlists.create", "watchlists.change"}


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (("watchlists", "show", "999"), 1, "no watch list"),
        (("watchlists", "create", "--name", "X", "--purpose", "wanted", *WHY), 2, "list name"),
        (("watchlists", "create", "--name", "Spies", "--purpose", "fishing", *WHY), 2, "unknown purpose"),
        (("watchlists", "add", "1", "424242", *WHY), 1, "no watchlist profile"),
        (("watchlists", "set", "9", "--mode", "live", *WHY), 1, "investigative"),  # the CRO gallery
    ],
)
def test_refusals_say_why_and_exit_non_zero(
    cli_config: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], code: int, says: str
) -> None:
    got, _, err = _run(capsys, cli_config, *argv)
    assert got == code and says in err, err
