"""The runner's options: parsing, environment variables, one-line errors."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest

from squall._runner._options import DEFAULT_GRACEFUL_TIMEOUT, parse_args

from .conftest import ROOT


def test_defaults() -> None:
    config = parse_args(["app:app"], environ={})
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8888, 1)
    assert config.graceful_timeout == DEFAULT_GRACEFUL_TIMEOUT == 30.0
    assert config.access_log and not config.reload and not config.xheaders
    assert config.reload_includes == ["*.py"]


def test_environment_gives_defaults_and_the_command_line_wins() -> None:
    env = {
        "SQUALL_PORT": "9001",
        "SQUALL_WORKERS": "3",
        "SQUALL_ACCESS_LOG": "off",
        "SQUALL_TRUSTED_PROXY": "10.0.0.0/8, 192.168.1.1",
        "SQUALL_MAX_BODY_SIZE": "10M",
    }
    config = parse_args(["app:app", "--workers", "2"], environ=env)
    assert config.port == 9001
    assert config.workers == 2
    assert config.access_log is False
    assert config.max_body_size == 10 * 1024 * 1024
    assert config.trusted_proxies == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.1"),
    ]
    assert config.xheaders  # a trusted proxy implies --xheaders


def test_xheaders_alone_trusts_loopback_only() -> None:
    config = parse_args(["app:app", "--xheaders"], environ={})
    assert [str(n) for n in config.trusted_proxies] == ["127.0.0.1/32", "::1/128"]


def test_sizes_and_seconds() -> None:
    config = parse_args(
        ["app:app", "--max-body-size", "512k", "--idle-timeout", "2.5", "--graceful-timeout", "0"],
        environ={},
    )
    assert config.max_body_size == 512 * 1024
    assert config.idle_timeout == 2.5
    assert config.graceful_timeout == 0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "squall", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["app:app", "--port", "http"], {}, "not a port number"),
        (["app:app", "--port", "70000"], {}, "not a port number"),
        (["app:app", "--workers", "-1"], {}, "not a whole number"),
        (["app:app", "--graceful-timeout", "soon"], {}, "not a number of seconds"),
        (["app:app", "--max-body-size", "lots"], {}, "not a size in bytes"),
        (["app:app", "--trusted-proxy", "10.0.0.0/33"], {}, "not an address or CIDR"),
        (["app:app", "--log-level", "loud"], {}, "invalid choice"),
        (["app:app", "--reload", "--workers", "2"], {}, "--reload cannot be used with --workers"),
        (["app:app", "--certfile", "/nonexistent.pem"], {}, "--certfile and --keyfile go together"),
        (["app"], {}, "expected MODULE:ATTRIBUTE"),
        (["app:app"], {"SQUALL_PORT": "x"}, "SQUALL_PORT: not a port number"),
        (["app:app", "--no-such-option"], {}, "unrecognized arguments"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m squall: error: ")
    assert message in lines[0]


def test_help_lists_every_option() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--uds",
        "--fd",
        "--workers",
        "--reload",
        "--reload-include",
        "--reload-exclude",
        "--xheaders",
        "--trusted-proxy",
        "--certfile",
        "--keyfile",
        "--max-body-size",
        "--idle-timeout",
        "--graceful-timeout",
        "--log-level",
        "--access-log",
        "--no-access-log",
        "--version",
        "--factory",
        "SQUALL_",
    ):
        assert option in result.stdout, option


def test_version() -> None:
    import squall

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"squall {squall.version}"
