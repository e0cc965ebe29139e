"""``safecity command-center`` options."""

from __future__ import annotations

import argparse

import pytest

from pipeline.settings import parse
from safecity_cli import command_center_cmd
from safecity_cli.main import CommandError, common_options


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command_center_cmd.register(parser.add_subparsers(dest="command"), common_options())
    return parser.parse_args(["command-center", *argv])


def test_host_and_port_override_the_settings() -> None:
    args = parse_args("--host", "0.0.0.0", "--port", "9123")
    assert args.func is command_center_cmd.run
    settings = command_center_cmd.with_overrides(parse({}), args.host, args.port)
    assert (settings.command_center.host, settings.command_center.port) == ("0.0.0.0", 9123)


def test_without_options_the_settings_stand() -> None:
    settings = parse({"command_center": {"port": 8181}})
    assert command_center_cmd.with_overrides(settings, None, None) is settings


def test_a_port_out_of_range_is_a_usage_error() -> None:
    with pytest.raises(CommandError, match="--port 70000") as caught:
        command_center_cmd.with_overrides(parse({}), None, 70000)
    assert caught.value.code == 2


def test_forwarded_headers_are_believed_only_from_trusted_proxies() -> None:
    plain = command_center_cmd.server_config(parse({}))
    assert plain.proxy_headers is False
    proxied = command_center_cmd.server_config(
        parse({"command_center": {"trusted_proxies": "10.20.0.40,10.20.0.41"}})
    )
    assert proxied.proxy_headers is True
    assert proxied.forwarded_allow_ips == "10.20.0.40,10.20.0.41"
