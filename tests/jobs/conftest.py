import datetime as dt
import importlib.util
import sys

import pytest

from citylake import generator
from tests.conftest import PROJECT_ROOT

NIGHT = "2026-11-23"


def load_job(name: str):
    """Imports jobs/<name>.py (a spark-submit application) as a module."""
    spec = importlib.util.spec_from_file_location(f"citylake_job_{name}", PROJECT_ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generated_night(settings_in):
    """A small generated city delivered into this test's incoming folder; returns its manifest."""
    return generator.generate(300, 5, dt.date.fromisoformat(NIGHT), settings_in.incoming_dir, settings_in.truth_dir)
