"""Every kind of alert has its contract (hit kinds), its command-centre module and a name the pages show; an
unknown kind raises everywhere instead of being taken for another."""

from __future__ import annotations

import pytest

from command_center.alerts import kinds
from pipeline.contracts import HIT_CONTRACTS
from pipeline.kinds import ALERT_KINDS, HIT_KINDS
from tests.names import subjects
from workers.kinds import stage_for
from workers.publisher import subject_of


def test_every_kind_has_its_module_and_every_hit_kind_its_contract() -> None:
    loaded = kinds.check_every_kind()
    assert [rules.kind for rules in loaded] == list(ALERT_KINDS)
    assert all(rules.title for rules in loaded)
    assert sorted(HIT_CONTRACTS) == sorted(HIT_KINDS)
    assert set(HIT_KINDS) <= set(ALERT_KINDS)
    for kind, contract in HIT_CONTRACTS.items():
        assert kind == contract.KIND
        assert subjects.parse_hit(subjects.hits(kind, "cam-1")) == (kind, "cam-1")


def test_an_unknown_kind_raises_by_name() -> None:
    with pytest.raises(ValueError, match="no kind of alert is called 'weapon'"):
        kinds.rules("weapon")
    with pytest.raises(ValueError, match="no kind of hit is called 'weapon'"):
        subjects.hits("weapon", "cam-1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no kind of hit is called 'weapon'"):
        subjects.parse_hit("safecity.hits.weapon.cam-1")
    with pytest.raises(ValueError, match="no worker analysis for the kind 'weapon'"):
        stage_for("weapon", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a worker publishes no str"):
        subject_of(subjects, "a hit")  # type: ignore[arg-type]
