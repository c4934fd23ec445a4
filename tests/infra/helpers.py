"""Running the project's own commands as a user would, in a clean environment."""

from __future__ import annotations

import os
import random
import socket
import subprocess

from tests.conftest import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test's environment without Airflow or citylake settings, plus the overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CITYLAKE_", "PYSPARK"))}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env.update(overrides)
    return env


def run(command: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range, so no outgoing connection and no
    bind to port 0 (Spark's block manager, py4j, curl) can take it between now and the server's
    start; never the same port twice in one test session."""
    first_ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    candidates = random.Random().sample(range(20000, first_ephemeral), 200)
    for port in candidates:
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port between 20000 and the ephemeral range")


def assert_libraries_match(base: dict, expected: dict) -> None:
    """The nightly summary's base-library counts against the generator's manifest: legal entities
    exactly (credit codes decide); golden persons at least the true persons the population sources
    know (resolution never merges two people) and at most 1% more (split persons)."""
    assert base["legal_entity"] == expected["legal_entity"]
    assert expected["population"] <= base["population"] <= expected["population"] * 1.01, (base, expected)
    assert base["population"] >= expected["population_registered"]
    assert base["credit"] > 0
