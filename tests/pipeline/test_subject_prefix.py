"""Every NATS name a deployment uses derives from ``nats.subject_prefix``; the default keeps today's names."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from pipeline.adapters import streams
from pipeline.settings import ConfigError, parse
from pipeline.subjects import Subjects


def every_name(names: Subjects) -> list[str]:
    """Each subject, stream, stream filter and bucket ``names`` builds, found by introspection, so a name
    added later is covered without this test changing."""
    found: list[str] = []
    for attr, member in inspect.getmembers(Subjects):
        if attr.startswith(("_", "parse_")) or attr == "prefix":
            continue
        if isinstance(member, property):
            found.append(getattr(names, attr))
            continue
        method = getattr(names, attr)
        args: list[Any] = [
            {
                "kind": "face",
                "area": "hits",
                "subject": f"{names.prefix}.hits.face.cam-1",
                "deployment": "0a1b2c3d",
            }.get(p, "cam-1")
            for p, param in inspect.signature(method).parameters.items()
            if param.default is inspect.Parameter.empty
        ]
        value = method(*args)
        found.extend(value if isinstance(value, list) else [str(value)])
    for name, builder in inspect.getmembers(streams, inspect.isfunction):
        if name.endswith("_stream_config"):
            config = builder(names)
            found += [config.name, *config.subjects]
    found += [
        names.cameras_bucket("north"),
        names.camera_leases_bucket("north"),
        names.workers_bucket("north"),
    ]
    return found


def test_every_name_derives_from_the_prefix() -> None:
    names = every_name(Subjects("x"))
    assert len(names) > 40
    leaked = [n for n in names if "safecity" in n.lower()]
    assert leaked == []
    # Each name starts with the prefix: subjects "x.", streams "X_", buckets "x_".
    assert all(n.startswith(("x.", "X_", "x_")) for n in names), [
        n for n in names if not n.startswith(("x.", "X_", "x_"))
    ]


def test_two_prefixes_share_no_name() -> None:
    assert set(every_name(Subjects("city-a"))).isdisjoint(every_name(Subjects("city-b")))


def test_the_default_prefix_keeps_the_names_deployments_have() -> None:
    names = parse({}).nats.subjects
    assert names.hits("face", "cam-7") == "safecity.hits.face.cam-7"
    assert names.hits_stream == "SAFECITY_HITS"
    assert streams.audit_anchors_stream_config(names).subjects == ["safecity.audit.anchors.>"]
    assert names.deadletters_stream == "SAFECITY_DEADLETTERS"
    assert names.cameras_bucket() == "safecity_cameras"
    assert names.camera_leases_bucket("north") == "safecity_camera_leases_north"
    assert names.watchlist_snapshots_bucket() == "safecity_watchlist"
    assert names.watchlist_snapshots_bucket("custom") == "custom"


def test_a_hit_of_another_deployment_is_not_parsed_as_ours() -> None:
    ours, theirs = Subjects("a"), Subjects("b")
    with pytest.raises(ValueError, match="not a hit subject"):
        ours.parse_hit(theirs.hits("face", "cam-1"))
    assert ours.parse_hit(ours.hits("plate", "cam-1")) == ("plate", "cam-1")


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "a*", "a>", "City", "-x", "x" * 33, "ünï"])
def test_a_prefix_that_is_not_one_token_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"nats\.subject_prefix.*lower-case letters, digits"):
        parse({"nats": {"subject_prefix": bad}})


def test_the_prefix_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_NATS__SUBJECT_PREFIX", "metro-2")
    assert parse({}).nats.subjects.hits_all() == "metro-2.hits.>"


def test_a_face_hits_later_images_have_a_subject_of_their_own_in_the_hits_stream() -> None:
    ours = Subjects("a")
    subject = ours.face_evidence("cam-1")
    assert subject == "a.hits.face.cam-1.evidence" and ours.parse_face_evidence(subject) == "cam-1"
    with pytest.raises(ValueError, match="not a hit subject"):
        ours.parse_hit(subject)  # never taken for a hit
    assert ours.parse_face_evidence(ours.hits("face", "cam-1")) is None
    assert ours.parse_face_evidence(Subjects("b").face_evidence("cam-1")) is None
