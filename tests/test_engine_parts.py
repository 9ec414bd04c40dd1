"""The engine's parts, each on its own: the event queue (against SimPy's ordering), levels and
bed pools, service pools and the boarding queue, the gate book, service kinds; and that a finished
replication leaves nothing behind (no reference cycles, flat memory over many replications)."""

from __future__ import annotations

import gc
import tracemalloc
import types

import numpy as np
import pytest
import simpy
from conftest import queue_config
from hypothesis import given, settings
from hypothesis import strategies as st

from hospsim.config import ConfigError, config_from_dict, config_to_dict
from hospsim.config.service_kinds import DISCHARGE, SERVICE_KINDS, STEP_UP_KIND
from hospsim.model.engine import run_model
from hospsim.model.kpis import kpis
from hospsim.model.levels import BedPool, Level
from hospsim.model.plan import Gate, GateBook
from hospsim.model.scheduler import EventQueue
from hospsim.model.services import BoardingQueue, ServicePool

# ---------------------------------------------------------------------------------------------
# Event queue


def test_events_run_in_time_then_priority_then_scheduling_order():
    q = EventQueue()
    seen: list[str] = []
    q.after(2.0, seen.append, "b")
    q.after(1.0, seen.append, "a")
    q.after(2.0, seen.append, "c")
    q.urgent_after(2.0, seen.append, "urgent")  # scheduled last, runs first at t = 2
    q.run(until=10)
    assert seen == ["a", "urgent", "b", "c"]
    assert q.now == 2.0


def test_run_stops_before_the_horizon_and_empties_the_queue():
    q = EventQueue()
    seen: list[float] = []

    def tick(k: int) -> None:
        seen.append(q.now)
        q.after(1.5, tick, k + 1)

    q.after(0.0, tick, 0)
    q.run(until=6.0)
    assert seen == [0.0, 1.5, 3.0, 4.5]  # the event due at 6.0 does not run
    assert q._heap == []


# Each event, when it runs, schedules children with delays taken from a fixed script, so the
# same script drives both queues. Delays come from a small set so that ties are common.
scripts = st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 0.25, 2.0]), max_size=3), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(script=scripts)
def test_event_order_is_simpys(script):
    order_ours: list[int] = []
    q = EventQueue()
    counter = iter(range(10**6))

    def ours(k: int) -> None:
        order_ours.append(k)
        if k > 400:  # zero delays could go on for ever
            return
        for delay in script[k % len(script)]:
            q.after(delay, ours, next(counter))

    q.after(0.0, ours, next(counter))
    q.run(until=5.0)

    order_simpy: list[int] = []
    env = simpy.Environment()
    counter2 = iter(range(10**6))

    def theirs(event: simpy.Event) -> None:
        k = event.value
        order_simpy.append(k)
        if k > 400:
            return
        for delay in script[k % len(script)]:
            env.timeout(delay, next(counter2)).callbacks.append(theirs)

    env.timeout(0.0, next(counter2)).callbacks.append(theirs)
    env.run(until=5.0)
    assert order_ours == order_simpy


# ---------------------------------------------------------------------------------------------
# Levels, beds, services, boarding


def test_level_integrates_by_day():
    lv = Level()
    lv.change(2, 0.25)  # 0 until 0.25, then 2
    lv.change(-1, 0.75)  # 1 from 0.75
    assert lv.close_day(1.0) == pytest.approx(2 * 0.5 + 1 * 0.25)
    assert lv.count == 1
    lv.change(1, 1.5)
    assert lv.close_day(2.0) == pytest.approx(1 * 0.5 + 2 * 0.5)


def test_bed_pool_free_beds_follow_capacity_cuts():
    beds = BedPool(capacity=2)
    beds.change(1, 0.1)
    beds.change(1, 0.2)
    assert not beds.has_free_bed()
    beds.capacity = 1  # a cut below occupancy: nobody is evicted, no bed is free
    beds.change(-1, 0.3)
    assert beds.count == 1 and not beds.has_free_bed()
    beds.change(-1, 0.4)
    assert beds.has_free_bed()


def test_service_pool_takes_a_new_patient_only_with_nobody_ahead():
    pool = ServicePool(0, DISCHARGE, places=1)
    assert pool.takes_transfers and pool.can_take_now()
    pool.waiting.append(7)
    assert pool.has_place() and not pool.can_take_now()
    pool.waiting.popleft()
    pool.occupied = 1
    assert not pool.has_place() and not pool.can_take_now()
    assert not ServicePool(1, STEP_UP_KIND, places=3).takes_transfers


def test_boarding_queue_is_fifo_and_lets_a_patient_leave():
    b = BoardingQueue(max_wait_days=0.5)
    for pid in (3, 1, 2):
        b.join(pid)
    b.leave(1)
    assert list(b.waiting) == [3, 2] and b.max_wait_days == 0.5


def test_gate_book_opens_a_gate_once_its_condition_holds():
    opened_on: list[int] = []

    def busy_yesterday(day, lv, occupied, delayed) -> bool:
        return day > 0 and occupied[day - 1] >= 5.0

    gate = Gate(path="acute.beds", checks=(busy_yesterday,), apply=lambda lv, day: opened_on.append(day))
    book = GateBook([gate], horizon_days=4)
    book.open_due(0, levers=None)  # type: ignore[arg-type]
    book.record_day(0, occupied_bed_days=3.0, delayed_bed_days=0.0)
    book.open_due(1, levers=None)  # type: ignore[arg-type]
    book.record_day(1, occupied_bed_days=6.0, delayed_bed_days=0.0)
    book.open_due(2, levers=None)  # type: ignore[arg-type]
    book.open_due(3, levers=None)  # type: ignore[arg-type]
    assert opened_on == [2] and book.opened == {"acute.beds": 2} and book.shut == []


# ---------------------------------------------------------------------------------------------
# Service kinds: what a service does comes from its kind, never from its name

STEP_UP_SERVICE = {"capacity": 2, "los": {"dist": "exponential", "mean_days": 3}}
REHAB = {"capacity": 3, "los": {"dist": "exponential", "mean_days": 8}}


def kinds_config(step_up_name: str, kind: str | None = "step_up"):
    svc = dict(STEP_UP_SERVICE, **({"kind": kind} if kind else {}))
    return queue_config(
        12, 6.0, {"dist": "lognormal", "mean_days": 1.8, "cv": 0.8}, horizon_days=300, warmup_days=30,
        groups={"all": {"share": 1.0, "los": {"dist": "lognormal", "mean_days": 1.8, "cv": 0.8},
                        "step_up_share": 0.2, "pathways": {"home": 0.8, "rehab": 0.2}}},
        services={step_up_name: svc, "rehab": REHAB},
    )  # fmt: skip


def test_a_step_up_service_may_have_any_name():
    named = kpis(kinds_config("step_up"), run_model(kinds_config("step_up"), 3))
    renamed = kpis(kinds_config("avoidance"), run_model(kinds_config("avoidance"), 3))
    assert named["admissions_avoided"] > 0
    assert {k.replace("step_up_", "avoidance_"): v for k, v in named.items()} == pytest.approx(renamed, nan_ok=True)


def test_a_service_named_step_up_without_a_kind_is_a_step_up_service():
    cfg = kinds_config("step_up", kind=None)
    assert cfg.services["step_up"].kind == "step_up" and cfg.step_up_service == "step_up"
    assert config_to_dict(cfg)["services"]["step_up"]["kind"] == "step_up"


def test_every_kind_is_described():
    assert set(SERVICE_KINDS) == {"discharge", "step_up"}
    for kind in SERVICE_KINDS.values():
        assert kind.description and kind.takes_transfers != kind.diverts_arrivals


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"services": {"rehab": dict(REHAB, kind="rehab")}}, "services.rehab.kind: unknown kind 'rehab'"),
        ({"services": {"a": dict(STEP_UP_SERVICE, kind="step_up"), "b": dict(STEP_UP_SERVICE, kind="step_up")}},
         "services.b.kind: only one service may take diverted arrivals"),
        ({"groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}, "pathways": {"home": 0.5, "a": 0.5}}},
          "services": {"a": dict(STEP_UP_SERVICE, kind="step_up")}},
         "groups.all.pathways.a: a service of kind step_up takes no discharges"),
        ({"services": {"a": dict(STEP_UP_SERVICE, kind="step_up", assessment={"dist": "fixed", "mean_days": 1})}},
         "services.a.assessment: a step_up service takes patients at once"),
        ({"groups": {"all": {"share": 1.0, "los": {"dist": "fixed", "mean_days": 1}, "step_up_share": 0.1}},
          "services": {"a": dict(STEP_UP_SERVICE, kind="discharge")}},
         "groups.all.step_up_share: needs a service of kind step_up"),
    ],
)  # fmt: skip
def test_kind_errors_are_one_line_naming_the_field(change, message):
    raw = config_to_dict(queue_config(5, 2.0, {"dist": "fixed", "mean_days": 1}))
    raw.update(change)
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "k.yaml")
    text = str(err.value)
    assert text.startswith("k.yaml: ") and message in text and "\n" not in text


# ---------------------------------------------------------------------------------------------
# Nothing of a finished replication stays behind


def busy_config():
    return kinds_config("step_up")


def _from_hospsim(obj: object) -> bool:
    """Whether an object was made by hospsim's code: an instance of one of its classes, or one of
    its functions or closures (or a method bound to one)."""
    func = getattr(obj, "__func__", obj)
    module = getattr(func, "__module__", None) if isinstance(func, types.FunctionType) else type(obj).__module__
    return str(module).startswith("hospsim")


def test_a_finished_replication_leaves_no_reference_cycles():
    cfg = busy_config()
    run_model(cfg, 1)  # warm caches (imports, pydantic)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what a collection finds, to look at it
    try:
        rep = run_model(cfg, 2)
        del rep
        gc.collect()
        # Only hospsim's own objects count: in a worker shared with other test files, a library's
        # lazily made objects (coverage, hypothesis, pydantic) can turn up in the same collection.
        ours = [type(o).__qualname__ for o in gc.garbage if _from_hospsim(o)]
        others = sorted({type(o).__qualname__ for o in gc.garbage} - set(ours))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == [], f"a replication left cycles of {sorted(set(ours))} (other garbage: {others})"


def test_memory_stays_flat_over_twenty_replications_in_one_process():
    cfg = busy_config()
    run_model(cfg, 0)
    gc.collect()
    gc.disable()  # what a cycle would keep alive is then never freed: growth would show
    tracemalloc.start()
    try:
        after = []
        for seed in range(1, 21):
            rep = run_model(cfg, seed)
            del rep
            after.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    one_replication = peak - min(after)
    assert one_replication > 100_000  # the measurement sees a replication's arrays at all
    assert after[-1] - after[1] < 0.05 * one_replication, after
    assert np.ptp(after[1:]) < 0.1 * one_replication
