"""``safecity cameras``: the fleet's camera catalogue in NATS KV, edited while workers run.

* ``import`` puts the cameras of the settings file into the catalogue (``--replace`` overwrites
  cameras already there; otherwise they are left alone);
* ``list`` shows each camera with the worker analysing it, and the live workers;
* ``set ID --url ... [--name ...]`` adds a camera or changes some of its fields (``--plate-countries
  us,eu`` declares the plates it expects; plates from elsewhere are still read; ``--analysis-url``
  names a sub-stream to analyse, the main stream ``--url`` then giving the evidence images);
* ``remove ID`` takes a camera out: its worker stops it within a lease round.

A camera's login is ``--username`` and ``--password-ref env:NAME`` or ``file:PATH``, naming where each
worker reads the password; the catalogue never holds a password, and no output shows one. A ``--url``
with a password in it is refused: the catalogue would hold it, and the command line leaks it (shell
history, the process list).

Workers follow the catalogue through a KV watch, so none of this needs a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from pydantic import ValidationError

from pipeline.settings import CameraConfig, Settings, describe_validation_error

EXIT_OK = 0


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("cameras", parents=[parent], help="edit the camera catalogue (NATS KV)")
    sub = p.add_subparsers(dest="cameras_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", parents=[parent], help="put the settings file's cameras in the catalogue")
    imp.add_argument("--replace", action="store_true", help="overwrite cameras already in the catalogue")
    imp.set_defaults(func=run_import)
    ls = sub.add_parser("list", parents=[parent], help="cameras, who analyses them, live workers")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=run_list)
    put = sub.add_parser("set", parents=[parent], help="add a camera or change some of its fields")
    put.add_argument("camera_id", metavar="ID")
    put.add_argument("--url", help="rtsp:// URL of the main stream (required for a new camera)")
    put.add_argument(
        "--analysis-url",
        metavar="URL",
        help="rtsp:// URL of a sub-stream of the camera to analyse instead of the main stream (whose frame "
        "of the same instant then gives a hit's images); 'none' analyses the main stream again",
    )
    put.add_argument("--username", help="user the worker logs in to the camera as; 'none' removes the login")
    put.add_argument(
        "--password-ref",
        metavar="REF",
        help="where each worker reads the camera's password at every connection: env:NAME (an environment "
        "variable) or file:PATH (a secrets file); never the password itself",
    )
    put.add_argument("--name")
    put.add_argument("--district")
    put.add_argument("--latitude", type=float)
    put.add_argument("--longitude", type=float)
    put.add_argument("--analysis-fps", type=float)
    put.add_argument(
        "--min-face-px", type=int, help="smallest face (pixels) the camera must find; 0: the global minimum"
    )
    put.add_argument("--analytics", help="comma-separated: face, plate")
    put.add_argument(
        "--face-threshold",
        type=_threshold,
        help="raise every watch list's face threshold on this camera to at least this ('none' clears)",
    )
    put.add_argument(
        "--plate-countries",
        metavar="CODES",
        help="countries whose plates this camera expects, comma-separated (e.g. us,eu); 'none' reads "
        "region-free, 'default' follows plates.countries. Other plates are still read.",
    )
    put.set_defaults(func=run_set)
    rm = sub.add_parser("remove", parents=[parent], help="take a camera out of the catalogue")
    rm.add_argument("camera_id", metavar="ID")
    rm.set_defaults(func=run_remove)


def _threshold(value: str) -> float:
    """A similarity, or 0 for 'none' (clears the camera's own threshold)."""
    if value.strip().lower() == "none":
        return 0.0
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a similarity or 'none': {value!r}") from None


def _fail(message: str, code: int = 1) -> Exception:
    from safecity_cli.main import CommandError

    return CommandError(message, code)


async def _with_catalogue(settings: Settings, action: Any) -> Any:
    from pipeline.adapters.bus import BusUnavailable, connect
    from pipeline.adapters.fleet import open_catalogue

    try:
        nc = await connect(settings.nats_url, "safecity-cameras", wait_s=5)
    except BusUnavailable as exc:
        raise _fail(str(exc)) from None
    try:
        kv = await open_catalogue(nc.jetstream(), settings.nats.subjects, settings.worker.fleet)
        return await action(nc, kv)
    finally:
        await nc.drain()


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters.fleet import import_cameras

    if not settings.cameras:
        raise _fail("the settings have no cameras to import", 2)

    async def action(_nc: Any, kv: Any) -> Any:
        return await import_cameras(kv, settings.cameras, replace=args.replace)

    result = asyncio.run(_with_catalogue(settings, action))
    print(
        json.dumps(
            {
                "fleet": settings.worker.fleet,
                "added": result.added,
                "replaced": result.replaced,
                "kept": result.kept,
                "refused": result.refused,
            }
        )
    )
    return 1 if result.refused else EXIT_OK


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters.fleet import CameraLease, WorkerPresence, read_catalogue

    async def action(nc: Any, kv: Any) -> dict[str, Any]:
        js = nc.jetstream()
        fleet = settings.worker.fleet
        catalogue = await read_catalogue(kv)
        leases = await _entries_if_any(js, settings.nats.subjects.camera_leases_bucket(fleet))
        workers = await _entries_if_any(js, settings.nats.subjects.workers_bucket(fleet))
        owners = {k: _owner(CameraLease, e.value) for k, e in leases.items()}
        return {
            "fleet": fleet,
            "cameras": [
                {**camera.public_dict(), "worker": owners.get(camera.id)}
                for camera in sorted(catalogue.cameras.values(), key=lambda c: c.id)
            ],
            "invalid": catalogue.invalid,
            "workers": sorted(
                (
                    {"worker_id": k, "cameras": _cameras_of(WorkerPresence, e.value)}
                    for k, e in workers.items()
                ),
                key=lambda w: str(w["worker_id"]),
            ),
        }

    found = asyncio.run(_with_catalogue(settings, action))
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    print(f"fleet {found['fleet']}: {len(found['cameras'])} cameras, {len(found['workers'])} live workers")
    for camera in found["cameras"]:
        print(
            f"  {camera['id']:<24} {camera['worker'] or '(unassigned)':<32} {','.join(camera['analytics'])}"
            f"{_plates_note(camera)}{'  sub-stream analysed' if camera.get('analysis_url') else ''}"
        )
    for key, reason in found["invalid"].items():
        print(f"  {key:<24} INVALID: {reason}")
    return EXIT_OK


def _plates_note(camera: dict[str, Any]) -> str:
    """Which plates an ANPR camera expects, for the table: its declared countries, if any."""
    if "plate" not in camera["analytics"] or camera.get("plate_countries") is None:
        return ""
    return f"  plates: {','.join(camera['plate_countries']) or 'region-free'}"


async def _entries_if_any(js: Any, bucket: str) -> dict[str, Any]:
    """A bucket's entries; none if no worker of the fleet has created it yet (listing creates nothing)."""
    import nats.js.errors

    from pipeline.adapters.fleet import snapshot

    try:
        kv = await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        return {}
    return await snapshot(kv)


def _owner(model: Any, value: bytes | None) -> str | None:
    try:
        owner: str = model.from_bytes(value or b"").worker_id
        return owner
    except ValidationError:
        return "(unreadable lease)"


def _cameras_of(model: Any, value: bytes | None) -> list[str]:
    try:
        cameras: list[str] = model.from_bytes(value or b"").cameras
        return cameras
    except ValidationError:
        return []


def _plate_countries(value: str, settings: Settings) -> list[str] | None:
    """``--plate-countries``: codes known to these settings, [] for 'none', None for 'default'."""
    word = value.strip().lower()
    if word == "default":
        return None
    codes = [] if word == "none" else [c.strip() for c in word.split(",") if c.strip()]
    if not codes and word != "none":
        raise _fail("--plate-countries: give country codes (e.g. us,eu), 'none' or 'default'", 2)
    try:
        settings.plates.check_known(codes)
    except ValueError as exc:
        raise _fail(f"--plate-countries: {exc}", 2) from None
    return codes


def options_from_args(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The fields ``set`` changes, checked before anything is connected to."""
    fields: dict[str, Any] = {}
    for option in ("url", "name", "district", "latitude", "longitude", "analysis_fps"):
        value = getattr(args, option)
        if value is not None:
            fields[option] = value
    if args.analytics is not None:
        fields["analytics"] = [a.strip() for a in args.analytics.split(",") if a.strip()]
    if args.face_threshold is not None:
        fields["face_threshold"] = args.face_threshold or None
    if args.min_face_px is not None:
        fields["min_face_px"] = args.min_face_px or None
    if args.analysis_url is not None:
        fields["analysis_url"] = None if args.analysis_url.strip().lower() == "none" else args.analysis_url
    if args.username is not None:
        none = args.username.strip().lower() == "none"
        fields["username"] = None if none else args.username
        if none:
            fields["password_ref"] = fields["password"] = None
    if args.password_ref is not None:
        fields["password_ref"] = args.password_ref
        fields["password"] = None
    for key in ("url", "analysis_url"):
        if isinstance(fields.get(key), str) and _has_password(fields[key]):
            raise _fail(
                f"--{key.replace('_', '-')}: give the camera's password as --password-ref env:NAME or "
                "file:PATH, not in the URL (the catalogue would hold it, and shell history keeps the "
                "command line)",
                2,
            )
    if args.plate_countries is not None:
        fields["plate_countries"] = _plate_countries(args.plate_countries, settings)
    return fields


def _has_password(url: str) -> bool:
    authority = url.partition("://")[2].split("/", 1)[0]
    return ":" in authority.rpartition("@")[0]


def camera_from_args(camera_id: str, current: CameraConfig | None, options: dict[str, Any]) -> CameraConfig:
    """The camera as ``set`` leaves it: the current fields, overridden by the options given."""
    fields: dict[str, Any] = current.model_dump() if current is not None else {"id": camera_id}
    if current is not None and current.password is not None:
        fields["password"] = current.password  # model_dump gives SecretStr; kept as it is
    fields.update(options)
    if "url" not in fields:
        raise _fail(f"camera {camera_id} is new: --url is required", 2)
    try:
        return CameraConfig(**fields)
    except ValidationError as exc:
        raise _fail(describe_validation_error(exc, f"camera {camera_id}"), 2) from None


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters.fleet import PasswordNotStorable, camera_bytes, read_catalogue

    options = options_from_args(args, settings)

    async def action(_nc: Any, kv: Any) -> CameraConfig:
        current = (await read_catalogue(kv)).cameras.get(args.camera_id)
        camera = camera_from_args(args.camera_id, current, options)
        try:
            await kv.put(camera.id, camera_bytes(camera))
        except PasswordNotStorable as exc:
            raise _fail(str(exc), 2) from None
        return camera

    camera = asyncio.run(_with_catalogue(settings, action))
    print(json.dumps(camera.public_dict()))
    return EXIT_OK


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.adapters.fleet import read_catalogue

    async def action(_nc: Any, kv: Any) -> bool:
        if args.camera_id not in (await read_catalogue(kv)).cameras:
            return False
        await kv.delete(args.camera_id)
        return True

    if not asyncio.run(_with_catalogue(settings, action)):
        raise _fail(f"no camera {args.camera_id!r} in the catalogue of fleet {settings.worker.fleet}", 1)
    print(json.dumps({"removed": args.camera_id}))
    return EXIT_OK
