"""Phases: seconds per phase, read from a literal clock."""

from citylake.timing import Phases


def test_each_phase_runs_from_the_previous_mark_and_a_phase_met_twice_adds_up():
    clock = iter([10.0, 12.5, 13.0, 20.0, 21.0])
    phases = Phases(clock=lambda: next(clock))
    phases.done("sources")
    phases.done("resolve")
    phases.done("sources")
    assert phases.seconds == {"sources": 9.5, "resolve": 0.5}
    assert phases.elapsed() == 11.0  # the second since the last mark is in no phase yet


def test_no_phase_done_means_no_seconds():
    clock = iter([3.0, 3.25])
    phases = Phases(clock=lambda: next(clock))
    assert phases.seconds == {}
    assert phases.elapsed() == 0.25
