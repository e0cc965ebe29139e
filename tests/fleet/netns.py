"""Hosts on one machine: a network namespace each, joined by a bridge, as separate machines on one LAN.

Every name (namespaces, bridge, veth pairs) carries a random tag, so runs side by side never collide, and
``Network.close`` removes all of it (and kills whatever runs inside) even when a test failed. The root
namespace has an address on the bridge too: the test itself, and services it offers the hosts (the
database), are reached there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path


def unavailable() -> str:
    """Why hosts cannot be built here, or '' when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns); the fleet tests run as root in CI"
    if not shutil.which("ip"):
        return "no `ip` command (iproute2): cannot build network namespaces"
    probe = f"sfprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _ip(*args: str, check: bool = True) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 no route of this machine uses."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    for _ in range(100):
        net = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if str(net.network_address)[:-1] not in routes:
            return net
    raise RuntimeError("no free 10.x.y.0/24 for the fleet's bridge")


@dataclass
class Host:
    name: str
    netns: str
    address: str
    veth: str  # the root namespace's end: down cuts the host off, up brings it back
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, what: str, argv: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> None:
        """Run ``argv`` inside this host (``ip netns exec`` execs it: the pid is the program's)."""
        out = log.open("ab")
        self.procs[what] = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, *argv],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, what: str | None = None, sig: int = signal.SIGKILL) -> None:
        """Kill one program (or every one: the host died) and reap it."""
        for name in [what] if what else list(self.procs):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            if proc.poll() is None:
                proc.send_signal(sig)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def link(self, up: bool) -> None:
        _ip("link", "set", self.veth, "up" if up else "down")


class Network:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.subnet = _free_subnet()
        addresses = list(self.subnet.hosts())
        self.gateway = str(addresses[0])  # the root namespace's address on the bridge
        self._next = 10
        self._addresses = addresses
        self.bridge = f"sfb{self.tag}"
        self.hosts: dict[str, Host] = {}
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def add(self, name: str) -> Host:
        index = len(self.hosts)
        netns = f"sf-{self.tag}-{name}"
        outer, inner = f"sf{self.tag}{index}", f"sf{self.tag}{index}i"
        address = str(self._addresses[self._next + index])
        _ip("netns", "add", netns)
        host = Host(name, netns, address, outer)
        self.hosts[name] = host
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", netns)
        _ip("link", "set", outer, "master", self.bridge)
        _ip("link", "set", outer, "up")
        inside = ("netns", "exec", netns, "ip")
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "set", inner, "name", "eth0")
        _ip(*inside, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        _ip(*inside, "route", "add", "default", "via", self.gateway)
        return host

    def close(self) -> None:
        """Kill every program of every host, then remove namespaces, links and bridge."""
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.kill()
        for host in self.hosts.values():
            _ip("link", "del", host.veth, check=False)
            _ip("netns", "del", host.netns, check=False)
        _ip("link", "del", self.bridge, check=False)
