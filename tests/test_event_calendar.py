"""The compiled engine's event queue (a heap of the current half hour, a calendar of later half
hours) gives events in (time, priority, order of scheduling) order, as the reference queue does:
against Python's heapq on generated schedules with ties, times on bucket edges, at the horizon
and far past it, and events scheduled into the half hour being served.

Marked ``slow``: compiling the kernel's queue for this driver takes over a minute on a fresh
machine, and every run of ``tests/test_lockstep.py`` (in every CI) already sends every event of
hundreds of generated systems through the same calendar. Run it with ``pytest -m slow``."""

from __future__ import annotations

import functools
import heapq

import numpy as np
import pytest
from conftest import NEEDS_FAST
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = [NEEDS_FAST, pytest.mark.slow]


def _queue(horizon_days: int, room: int):  # type: ignore[no-untyped-def]
    """An empty queue in the engine's own State (a test type would be cached with the kernel's
    compiled functions, and break loading them where the test module is not importable)."""
    from hospsim.config import default_config_path, load_config
    from hospsim.model.cohort import build_candidates
    from hospsim.model.engine import engine_candidates
    from hospsim.model.fast import kernel as k
    from hospsim.model.fast.state import new_state
    from hospsim.model.plan import build_levers
    from hospsim.model.streams import Streams

    cfg = load_config(default_config_path()).model_copy(update={"horizon_days": 2, "warmup_days": 0})
    levers, gates = build_levers(cfg)
    st = new_state(cfg, engine_candidates(cfg, build_candidates(cfg, Streams(0))), levers, gates)
    si = np.zeros(k.N_SI, dtype=np.int64)
    si[k.FREE_NODE] = -1
    buckets = np.full(int(horizon_days * k.BUCKETS_PER_DAY) + 1, -1, dtype=np.int64)
    ints = [np.zeros(room, dtype=np.int64) for _ in range(5)]
    return st._replace(
        si=si,
        ev_time=np.zeros(room),
        ev_key=ints[0],
        ev_payload=ints[1],
        far_head=buckets,
        fn_time=np.zeros(room),
        fn_key=ints[2],
        fn_payload=ints[3],
        fn_next=ints[4],
    )


@functools.cache
def _driver():  # type: ignore[no-untyped-def]
    from numba import njit

    from hospsim.model.fast import kernel as k

    @njit
    def drive(q, pushes, delays, priorities):  # type: ignore[no-untyped-def]
        """Push ``pushes[i]`` events after popping one (when any): each ``delays`` after the time
        of the last popped event. Returns the popped (time, payload) in order."""
        out_t = np.empty(delays.size)
        out_p = np.empty(delays.size, dtype=np.int64)
        m = j = 0
        now = 0.0
        for i in range(pushes.size):
            for _ in range(pushes[i]):
                k.push(q, now + delays[j], priorities[j], 0, j)
                j += 1
            if q.si[k.N_EVENTS] == 0:
                k._refill(q)
            if q.si[k.N_EVENTS] > 0:
                now, payload = k.pop(q)
                out_t[m], out_p[m] = now, payload
                m += 1
        while True:
            if q.si[k.N_EVENTS] == 0:
                k._refill(q)
            if q.si[k.N_EVENTS] == 0:
                break
            now, payload = k.pop(q)
            out_t[m], out_p[m] = now, payload
            m += 1
        return out_t[:m], out_p[:m]

    return drive


delays = st.one_of(
    st.sampled_from([0.0, 1 / 48, 0.5, 1.0, 2.0 - 1e-12, 3.0, 1e6]),  # ties, bucket edges, past the horizon
    st.integers(0, 200).map(lambda q: q / 96),  # on and between the half hours
    st.floats(0.0, 4.0),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=120),
    st.lists(st.tuples(delays, st.integers(0, 1)), min_size=480, max_size=480),
    st.integers(1, 3),
)
def test_the_calendar_gives_the_reference_order(pushes, events, horizon_days):
    from hospsim.model.fast import kernel as k

    n = sum(pushes)
    d = np.array([e[0] for e in events[:n]], dtype=float)
    p = np.array([e[1] for e in events[:n]], dtype=np.int64)
    times, payloads = _driver()(_queue(horizon_days, n + 1), np.array(pushes, dtype=np.int64), d, p)
    # The reference: the same schedule with heapq, (time, priority, order of scheduling).
    heap: list[tuple[float, int, int]] = []
    now, j, want = 0.0, 0, []
    for count in pushes:
        for _ in range(count):
            heapq.heappush(heap, (now + d[j], int(p[j]), j))
            j += 1
        if heap:
            now, _, order = heapq.heappop(heap)
            want.append((now, order))
    want += [(t, order) for t, _, order in sorted(heap)]
    assert [(t, int(q) // k.KINDS) for t, q in zip(times.tolist(), payloads.tolist(), strict=True)] == want
