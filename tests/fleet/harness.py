"""A safecity deployment across hosts, built as README "Deploying across machines" says, on one machine.

Hosts (each a network namespace on one bridge, tests/fleet/netns.py): nats-1..3 (a JetStream cluster),
store (Redis), worker-1, worker-2, cc-1, cc-2 (command centres) and cameras (camera_sim). PostgreSQL is
the machine's, reached by the hosts at the root namespace's bridge address (a forwarder there).

The configuration is deploy/'s: each program is the ExecStart of its systemd unit, with the environment
of the unit's EnvironmentFile=s, rendered from deploy/safecity.env, deploy/host.env and deploy/nats/nats.env
with this run's addresses (only keys those files have may be changed: the files and the harness cannot
drift apart), and the YAML settings file tests/e2e/procs.py writes for every end-to-end test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats

from tests.e2e.procs import write_system_config
from tests.e2e.test_faults import configure
from tests.fleet.netns import Host, Network
from tests.services import REPO, free_port, nats_server_binary, postgres_database

DEPLOY = REPO / "deploy"
NATS_NODES = ("nats-1", "nats-2", "nats-3")
CC_PORT = 8080
WORKER_METRICS_PORT = 9100
RTSP_PORT = 8554
LEASE_TTL_S = 3.0  # short, so a takeover is quick to see (the lease bucket's expiry, settings.worker)
VIDEO = "hamilton_whitehouse_clip.mp4"


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def render_env(template: Path, changes: dict[str, str], keep: str = "") -> dict[str, str]:
    """The template's values with ``changes`` (each a key the template has), keeping only keys starting
    with ``keep`` when given."""
    values = read_env(template)
    unknown = sorted(set(changes) - set(values))
    assert not unknown, f"{template.relative_to(REPO)} has no {unknown}: keep deploy/ and the harness in step"
    values.update(changes)
    return {k: v for k, v in values.items() if k.startswith(keep)}


def unit(name: str) -> tuple[list[str], list[str]]:
    """ExecStart (split) and EnvironmentFile paths of a deploy/systemd unit."""
    argv: list[str] = []
    env_files = []
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(value)
        elif key == "EnvironmentFile":
            env_files.append(value.lstrip("-"))
    return argv, env_files


def program(argv: list[str]) -> list[str]:
    """A unit's command as this checkout runs it."""
    if argv[0].endswith("/safecity"):
        return [sys.executable, "-m", "safecity_cli.main", *argv[1:]]
    if argv[0].endswith("/nats-server"):
        return [
            nats_server_binary(),
            *[
                str(DEPLOY / "nats" / "nats-server.conf") if a.startswith("/etc/nats/") else a
                for a in argv[1:]
            ],
        ]
    raise AssertionError(f"unexpected ExecStart {argv}")


class Forwarder:
    """TCP from the bridge address to 127.0.0.1:<port> (where the machine's PostgreSQL listens)."""

    def __init__(self, listen: str, target_port: int) -> None:
        self.port = free_port()
        self._listen, self._target = listen, target_port
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._pipe, self._listen, self.port))
        started.set()
        self._loop.run_forever()
        server.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Fleet:
    def __init__(self, workdir: Path, net: Network, database_url: str, models_dir: Path) -> None:
        self.workdir, self.net, self.models_dir = workdir, net, models_dir
        self.tag = net.tag
        for name in (*NATS_NODES, "store", "worker-1", "worker-2", "cc-1", "cc-2", "cameras"):
            net.add(name)
        self.hosts = net.hosts
        self.cameras = [f"cam-{i}-{self.tag}" for i in (1, 2)]
        self.database_url = database_url
        self.nats_urls = [f"nats://{self.hosts[n].address}:4222" for n in NATS_NODES]
        self.nats_url = ",".join(self.nats_urls)
        self.redis_url = f"redis://{self.hosts['store'].address}:6379/0"
        self.config, _, _ = write_system_config(
            workdir, nats_url=self.nats_url, database_url=database_url, models_dir=models_dir,
            videos=dict.fromkeys(self.cameras, VIDEO), tag=self.tag, redis_url=self.redis_url,
            district="Islamabad",
        )  # fmt: skip
        cam_host = self.hosts["cameras"].address
        configure(
            self.config,
            cameras=[
                {"id": c, "url": f"rtsp://{cam_host}:{RTSP_PORT}/{c}", "district": "Islamabad"}
                for c in self.cameras
            ],
            # Burst hits name made-up cameras; a command centre that died mid-batch gives its hits back soon.
            command_center={"hits_ack_wait_s": 3, "unknown_cameras": "accept", "hits_consumer_start": "all"},
            worker={"analysis_fps": 2},
        )

    # -- programs ------------------------------------------------------------------------------------

    def log(self, host: str, what: str) -> Path:
        return self.workdir / f"{host}-{what}.log"

    def common_env(self) -> dict[str, str]:
        return render_env(
            DEPLOY / "safecity.env",
            {
                "SAFECITY_CONFIG": str(self.config),
                "SAFECITY_ENVIRONMENT": "test",
                "SAFECITY_DATA_DIR": str(self.workdir / "data"),
                "SAFECITY_MODELS_DIR": str(self.models_dir),
                "SAFECITY_NATS_URL": self.nats_url,
                "SAFECITY_DATABASE_URL": self.database_url,
                "SAFECITY_REDIS_URL": self.redis_url,
                "SAFECITY_WORKER__LEASE_TTL_S": str(LEASE_TTL_S),
                "SAFECITY_WORKER__FLEET": f"fleet-{self.tag}",
                "SAFECITY_COMMAND_CENTER__TRUSTED_PROXIES": self.net.gateway,
                # Codes to the test's outbox file (tests/e2e/procs.py), not to a gateway.
                "SAFECITY_SECURITY__SMS_BACKEND": "outbox",
                "SAFECITY_SECURITY__SMS_HTTP_URL": "",
            },
        )

    def host_env(self, host: Host, role: str) -> dict[str, str]:
        changes = {
            "worker": {
                "SAFECITY_WORKER__WORKER_ID": host.name,
                "SAFECITY_WORKER__METRICS_HOST": host.address,
                "SAFECITY_WORKER__METRICS_PORT": str(WORKER_METRICS_PORT),
            },
            "command-center": {
                "SAFECITY_COMMAND_CENTER__HOST": host.address,
                "SAFECITY_COMMAND_CENTER__PORT": str(CC_PORT),
            },
            "camera-sim": {
                "SAFECITY_CAMERA_SIM__HOST": host.address,
                "SAFECITY_CAMERA_SIM__PORT": str(RTSP_PORT),
            },
        }[role]
        prefix = {"worker": "SAFECITY_WORKER__", "command-center": "SAFECITY_COMMAND_CENTER__"}
        return render_env(DEPLOY / "host.env", changes, keep=prefix.get(role, "SAFECITY_CAMERA_SIM__"))

    def start_service(self, host_name: str, role: str) -> None:
        """``safecity-<role>.service`` on a host: its ExecStart with its EnvironmentFile=s."""
        host = self.hosts[host_name]
        argv, env_files = unit(f"safecity-{role}.service")
        files = {
            "/etc/safecity/safecity.env": self.common_env(),
            "/etc/safecity/secrets.env": {},  # the secrets are in the test's YAML file
            "/etc/safecity/host.env": self.host_env(host, role),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAFECITY_")}
        for path in env_files:
            env.update(files[path])
        env["PYTHONUNBUFFERED"] = "1"
        host.start(role, program(argv), env=env, log=self.log(host_name, role), cwd=REPO)

    def start_nats(self, node: str) -> None:
        host = self.hosts[node]
        argv, env_files = unit("nats-server.service")
        assert env_files == ["/etc/nats/nats.env"]
        routes = {
            f"NATS_ROUTE_{i}": f"nats-route://{self.hosts[n].address}:6222"
            for i, n in enumerate(NATS_NODES, 1)
        }
        env = render_env(
            DEPLOY / "nats" / "nats.env",
            {
                "NATS_SERVER_NAME": node,
                "NATS_CLIENT_LISTEN": f"{host.address}:4222",
                "NATS_MONITOR_LISTEN": f"{host.address}:8222",
                "NATS_CLUSTER_LISTEN": f"{host.address}:6222",
                "NATS_STORE_DIR": str(self.workdir / node),
                **routes,
            },
        )
        host.start("nats", program(argv), env={**os.environ, **env}, log=self.log(node, "nats"), cwd=REPO)

    def start_redis(self) -> None:
        from tests.e2e.private_servers import redis_server_binary

        host = self.hosts["store"]
        argv = [
            redis_server_binary(),
            "--bind",
            host.address,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",  # it listens on the LAN, reached by the command-centre hosts
            "no",
        ]
        host.start("redis", argv, env=dict(os.environ), log=self.log("store", "redis"), cwd=REPO)

    def start_all(self) -> None:
        for node in NATS_NODES:
            self.start_nats(node)
        self.start_redis()
        self.start_service("cameras", "camera-sim")
        for cc in ("cc-1", "cc-2"):
            self.start_service(cc, "command-center")
        for worker in ("worker-1", "worker-2"):
            self.start_service(worker, "worker")

    # -- looking in -------------------------------------------------------------------------------------

    def cc_base(self, cc: str) -> str:
        return f"http://{self.hosts[cc].address}:{CC_PORT}"

    def worker_metrics(self, worker: str) -> str:
        return f"http://{self.hosts[worker].address}:{WORKER_METRICS_PORT}"

    def logs(self) -> str:
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            parts.append(f"----- {path.name} -----\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    async def connect(self) -> Any:
        return await nats.connect(
            servers=self.nats_urls, connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=0.5
        )

    def cluster_up(self) -> bool:
        """Every node answers /healthz with JetStream ready (meta leader known, streams current)."""
        import urllib.request

        for node in NATS_NODES:
            try:
                url = f"http://{self.hosts[node].address}:8222/healthz"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status != 200:
                        return False
            except OSError:
                return False
        return True


@contextlib.contextmanager
def fleet(workdir: Path, models_dir: Path) -> Iterator[Fleet]:
    """Hosts built, every program started; everything killed and removed afterwards, failure or not."""
    net = Network()
    forwarder: Forwarder | None = None
    try:
        with postgres_database() as url:
            forwarder = Forwarder(net.gateway, 5432)
            hosts_url = url.replace("@127.0.0.1:5432/", f"@{net.gateway}:{forwarder.port}/")
            built = Fleet(workdir, net, hosts_url, models_dir)
            built.start_all()
            yield built
    finally:
        net.close()
        if forwarder is not None:
            forwarder.close()
