"""deploy/'s files as an installation reads them: the environment files give valid settings, every unit
runs a command this checkout has, and the NATS configurations (plain and TLS, with certificates laid out
as documented) start a server that clients reach. Fast; the deployment itself is test_fleet.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import nats
import pytest

from pipeline.settings import Settings
from tests.fleet.harness import DEPLOY, program, read_env, unit
from tests.services import TEST_SECURITY, free_port, nats_server_binary, port_open


def test_environment_files_make_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**read_env(DEPLOY / "safecity.env"), **read_env(DEPLOY / "host.env")}.items():
        monkeypatch.setenv(key, value)
    for name, secret in TEST_SECURITY.items():  # what secrets.env holds
        monkeypatch.setenv(f"SAFECITY_SECURITY__{name.upper()}", str(secret))
    settings = Settings()
    assert settings.environment == "production"
    assert len(settings.nats_url.split(",")) == 3 and settings.nats_replicas == 3
    assert settings.command_center.trusted_proxies == "10.20.0.40"


@pytest.mark.parametrize(
    "name",
    [
        "nats-server.service",
        "safecity-worker.service",
        "safecity-command-center.service",
        "safecity-camera-sim.service",
    ],
)
def test_every_unit_runs_a_known_command_with_its_environment(name: str) -> None:
    argv, env_files = unit(name)
    assert Path(program(argv)[0]).exists()
    assert env_files, f"{name} reads no EnvironmentFile"


def _node_env(tmp_path: Path) -> dict[str, str]:
    client, cluster = free_port(), free_port()
    own = f"nats-route://127.0.0.1:{cluster}"
    env = read_env(DEPLOY / "nats" / "nats.env")
    env.update(
        NATS_CLIENT_LISTEN=f"127.0.0.1:{client}",
        NATS_MONITOR_LISTEN=f"127.0.0.1:{free_port()}",
        NATS_CLUSTER_LISTEN=f"127.0.0.1:{cluster}",
        # This node and two peers that are not there (a node that starts first waits for them).
        NATS_ROUTE_1=own,
        NATS_ROUTE_2=f"nats-route://127.0.0.1:{free_port()}",
        NATS_ROUTE_3=f"nats-route://127.0.0.1:{free_port()}",
        NATS_STORE_DIR=str(tmp_path / "js"),
    )
    return env


def test_nats_configuration_is_valid(tmp_path: Path) -> None:
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(DEPLOY / "nats" / "nats-server.conf")],
        env=_node_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def _certificates(tls: Path) -> None:
    """The documented layout: ca.pem, server.pem (SAN: the node's address), server-key.pem."""
    tls.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tls)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *key, "-days", "1", "-subj", "/CN=safecity test CA", "-keyout", "ca-key.pem",
            "-out", "ca.pem")  # fmt: skip
    openssl("req", *key, "-subj", "/CN=nats-1", "-keyout", "server-key.pem", "-out", "server.csr")
    (tls / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "1", "-extfile", "ext.cnf", "-out", "server.pem")  # fmt: skip


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl command to make test certificates")
def test_nats_tls_configuration_serves_tls_clients_only(tmp_path: Path) -> None:
    _certificates(tmp_path / "tls")
    conf = tmp_path / "nats-server-tls.conf"
    text = (DEPLOY / "nats" / "nats-server-tls.conf").read_text()
    conf.write_text(text.replace("/etc/nats/tls/", f"{tmp_path / 'tls'}/"))
    env = _node_env(tmp_path)
    host, port = env["NATS_CLIENT_LISTEN"].split(":")
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if port_open(host, int(port)) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        asyncio.run(_round_trip(f"tls://{host}:{port}", tmp_path / "tls" / "ca.pem"))
        assert _server_info(host, int(port))["tls_required"] is True
    finally:
        proc.terminate()
        proc.wait(10)


async def _round_trip(url: str, ca: Path) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    nc = await nats.connect(url, tls=context, connect_timeout=5, max_reconnect_attempts=0)
    try:
        sub = await nc.subscribe("deploy.tls")
        await nc.publish("deploy.tls", b"over tls")
        assert (await sub.next_msg(timeout=5)).data == b"over tls"
    finally:
        await nc.close()


def _server_info(host: str, port: int) -> dict[str, object]:
    """What the server tells a client that has just connected (its INFO line)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        line = sock.makefile("rb").readline()
    assert line.startswith(b"INFO ")
    info: dict[str, object] = json.loads(line[5:])
    return info
