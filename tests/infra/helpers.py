"""Running the project's own commands as a user would, in a clean environment."""

from __future__ import annotations

import os
import subprocess

from citylake.ports import free_loopback_port
from tests.conftest import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"


def clean_environment(**overrides: str) -> dict[str, str]:
    """The test's environment without Airflow or citylake settings, plus the overrides; the test
    run's Spark Connect server (tests/conftest.py) stays the one its jobs reach."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CITYLAKE_", "PYSPARK"))
           or k == "CITYLAKE_SPARK_CONNECT"}
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
    """A free loopback port for a server the test starts; never the same port twice in one test
    session (a port handed out may not be bound yet)."""
    port = free_loopback_port(taken=_HANDED_OUT)
    _HANDED_OUT.add(port)
    return port


def assert_libraries_match(base: dict, expected: dict) -> None:
    """The nightly summary's base-library counts against the generator's manifest: legal entities
    exactly (credit codes decide); golden persons at least the true persons the population sources
    know (resolution never merges two people) and at most 1% more (split persons)."""
    assert base["legal_entity"] == expected["legal_entity"]
    assert expected["population"] <= base["population"] <= expected["population"] * 1.01, (base, expected)
    assert base["population"] >= expected["population_registered"]
    assert base["credit"] > 0
