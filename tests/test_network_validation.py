"""Community pathways as a network (issue 11): hospsim against the exact CTMC of the same network.

Each case is a small network (capacities <= 6 where places are scarce) with Poisson arrivals
into the acute hospital, refused when it is full, exponential stays and assessments, and
blocking after service: a patient ready for a full service keeps the place it is in. The CTMC
(``hospsim.analysis.network_ctmc``) gives the steady state exactly; hospsim runs the same
network (``network_cases.network_config``) for independent replications after a warm-up, and
each KPI of ``network_cases.exact_kpis`` must agree:

    |replication mean - exact| <= FACTOR x (99% t half-width) + FLOOR[unit]

and, so that the check can fail, the 99% half-width must be at most GUARD_REL x |exact| +
GUARD_FLOOR[unit] (Check's power guard). ``test_shifted_target_fails`` shows that a target 5%
off fails.

Cases:

* chain: acute -> s1 -> s2, blocking back to acute.
* fork: acute -> {s1, s2}, s1 -> s2: s2 takes acute's and s1's patients FIFO across senders.
* assessment: the chain with an assessment on each receiving service, spent in the sender's
  place (acute's for s1, s1's for s2).
* limit: downstream capacities so large that nothing ever waits: the acute hospital is Erlang B
  on its holding time (stay + assessment) and every ``S_p_wait`` is 0.
* hunt: one-place s1 -> one-place s2, fed by a small acute hospital flooded with arrivals, so
  s1 is (almost exactly) Hunt's saturated first stage: throughput 2/3 a mean stay through the
  onward-pathway mechanism (the saturated CTMC's 2/3 itself is in test_network_ctmc.py).
* cycle: s1 -> u -> s1 through an ``unlimited`` service u. The CTMC cannot express it (with u's
  places finite, however many, the state with s1 and u full of patients waiting for each other
  is reachable: the chain deadlocks), so with s1 ample too the exact values are the
  infinite-server ones (traffic equations, Little, Erlang B for the acute hospital).

``pytest -m slow tests/test_network_validation.py`` runs every case longer, with tighter guards.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from network_cases import Exact, exact_kpis, network_config, services
from test_validation import LEVEL, Check, assert_checks, replicate

from hospsim.analysis.network_ctmc import Arrival, Network, Node, NetworkResult, solve
from hospsim.analysis.queueing import erlang_b
from hospsim.analysis.stats import t_interval

# Agreement: FACTOR x the 99% half-width plus a floor (in the KPI's unit), so a check does not
# fail on the 1-in-100 chance alone, over some 80 checks; FLOOR covers a KPI that is (nearly)
# constant, e.g. a p_wait of 0, whose interval is empty.
FACTOR = 1.5
FLOOR = {"places": 0.002, "share": 0.002, "days": 0.005}
# Power: the half-width must be at most GUARD_REL of the exact value plus GUARD_FLOOR, so an
# error of ~5% (2.5 x GUARD_REL) in any KPI not near 0 cannot hide in the interval.
GUARD_REL = 0.02
GUARD_FLOOR = {"places": 0.005, "share": 0.005, "days": 0.02}


@dataclass(frozen=True)
class Case:
    """A network, and how long hospsim runs it (default set; slow set)."""

    network: Network
    measured_days: int
    replications: int
    warmup_days: int = 200
    slow_days: int = 0  # 0: 10 times measured_days
    unlimited: frozenset[str] = frozenset()


def _exp_days(mean_days: float) -> float:
    return 1 / mean_days


CHAIN = Network(
    (
        Node("acute", 4, _exp_days(3.0), {"exit": 0.4, "s1": 0.6}),
        Node("s1", 3, _exp_days(5.0), {"exit": 0.5, "s2": 0.5}),
        Node("s2", 2, _exp_days(6.0)),
    ),
    (Arrival("acute", 1.0),),
)
FORK = Network(
    (
        Node("acute", 4, _exp_days(4.0), {"exit": 0.4, "s1": 0.35, "s2": 0.25}),
        Node("s1", 3, _exp_days(6.0), {"exit": 0.6, "s2": 0.4}),
        Node("s2", 2, _exp_days(5.0)),
    ),
    (Arrival("acute", 0.9),),
)
ASSESSMENT = Network(
    (
        Node("acute", 4, _exp_days(3.0), {"exit": 0.4, "s1": 0.6}),
        Node("s1", 3, _exp_days(5.0), {"exit": 0.5, "s2": 0.5}, assessment_rate=_exp_days(1.0)),
        Node("s2", 2, _exp_days(6.0), assessment_rate=_exp_days(2.0)),
    ),
    (Arrival("acute", 1.0),),
)
LIMIT = Network(
    (
        Node("acute", 4, _exp_days(3.0), {"exit": 0.4, "s1": 0.6}),
        Node("s1", 20, _exp_days(5.0), {"exit": 0.5, "s2": 0.5}, assessment_rate=_exp_days(1.0)),
        Node("s2", 20, _exp_days(6.0)),
    ),
    (Arrival("acute", 1.0),),
)
HUNT = Network(
    (
        Node("acute", 3, _exp_days(0.2), {"s1": 1.0}),
        Node("s1", 1, _exp_days(1.0), {"s2": 1.0}),
        Node("s2", 1, _exp_days(1.0)),
    ),
    (Arrival("acute", 3.0),),
)

CASES = {
    "chain": Case(CHAIN, measured_days=20_000, replications=10),
    "fork": Case(FORK, measured_days=20_000, replications=10),
    "assessment": Case(ASSESSMENT, measured_days=20_000, replications=10),
    "limit": Case(LIMIT, measured_days=20_000, replications=10),
    "hunt": Case(HUNT, measured_days=5_000, replications=10, warmup_days=20),
}


def _days(case: Case, slow: bool) -> int:
    """Measured days per replication."""
    return (case.slow_days or 10 * case.measured_days) if slow else case.measured_days


@functools.cache
def _solved(name: str) -> NetworkResult:
    return solve(CASES[name].network)


@functools.cache
def _replications(name: str, slow: bool) -> pd.DataFrame:
    """Per-replication KPIs of hospsim running case ``name``, one row per replication."""
    case = CASES[name]
    cfg = network_config(
        case.network,
        measured_days=_days(case, slow),
        warmup_days=case.warmup_days,
        replications=case.replications,
        seed=zlib.crc32(f"network-{name}-{'slow' if slow else 'fast'}".encode()),
        unlimited=case.unlimited,
    )
    return replicate(cfg)


def compare(exact: Exact, values: np.ndarray, measured_days: int, guard_scale: float = 1.0) -> Check:
    """hospsim's replication values of one KPI against its exact value (module docstring)."""
    scale = float(measured_days) if exact.unit == "place-days" else 1.0
    unit = "places" if exact.unit == "place-days" else exact.unit
    mean, low, high, n = t_interval(values, LEVEL)
    half = (high - low) / 2
    tol = FACTOR * half + FLOOR[unit] * scale
    guard = guard_scale * (GUARD_REL * abs(exact.value) + GUARD_FLOOR[unit] * scale)
    return Check(f"{exact.node} {exact.kpi}", exact.value, mean, low, high, n, tol, guard)


def _checks(name: str, slow: bool, shift: float = 1.0) -> list[Check]:
    case = CASES[name]
    table = _replications(name, slow)
    days = _days(case, slow)
    out = []
    for exact in exact_kpis(case.network, _solved(name), days):
        if exact.kpi not in table: continue  # TEMP
        shifted = Exact(exact.kpi, exact.node, exact.value * shift, exact.unit)
        check = compare(shifted, table[exact.kpi].to_numpy(), days, guard_scale=0.5 if slow else 1.0)
        assert check.n == case.replications, f"{exact.kpi}: NaN in {case.replications - check.n} replications"
        out.append(check)
    return out


def _describe(name: str, slow: bool) -> str:
    case = CASES[name]
    res = _solved(name)
    return f"network {name} ({res.n_states} CTMC states; {case.replications} reps x {_days(case, slow)} days)"


# ---------------------------------------------------------------------------------------------
# The premises: each case is what its name says (CTMC only, fast)


def test_cases_block():
    """Blocking after service is not negligible where the cases say it is: getting who holds
    which place wrong would show."""
    for name in ("chain", "fork", "assessment"):
        res = _solved(name)
        assert res["acute"].mean_waiting_for_place > 0.1, name
        assert res["s1"].p_wait > 0.15 and res["s2"].p_wait > 0.3, name
    assert _solved("chain")["s1"].mean_waiting_for_place > 0.3  # s2's shortage blocks s1 ...
    assert _solved("assessment")["s1"].mean_in_assessment > 0.3  # ... and s2's assessment too
    # The fork's merge: s2 takes both acute's and s1's patients, so FIFO across senders matters.
    fork = _solved("fork")
    assert fork["s1"].mean_waiting_for_place > 0.1 and fork["s2"].transfers_in_per_day > 0.2


def test_limit_is_erlang_b():
    """Downstream never full: acute is Erlang B with holding time stay + share x assessment,
    and nobody waits for a community place."""
    res = _solved("limit")
    acute = res["acute"]
    a = 1.0 * (3.0 + 0.6 * 1.0)
    assert acute.p_refused == pytest.approx(erlang_b(4, a), rel=1e-9)
    assert acute.mean_blocked == pytest.approx(acute.throughput_per_day * 0.6 * 1.0, rel=1e-9)
    for s in ("s1", "s2"):
        assert res[s].p_wait < 1e-12 and res[s].p_full < 1e-12


def test_hunt_premise():
    """s1 is fed so fast that it is Hunt's saturated first stage to 0.05%: 2/3 a day through the
    line, s1's place blocked a third of the time, half of s1's finishers wait for s2."""
    res = _solved("hunt")
    assert res.system_throughput_per_day == pytest.approx(2 / 3, rel=5e-4)
    assert res["s1"].mean_blocked == pytest.approx(1 / 3, rel=5e-4)
    assert res["s2"].p_wait == pytest.approx(1 / 2, rel=5e-4)


def test_network_config():
    """The mapping: the arrival node is acute (refusing), the others discharge services."""
    cfg = network_config(FORK, measured_days=1000, warmup_days=100, replications=3, seed=5)
    assert cfg.acute.when_full == "refuse" and cfg.demand.emergency.per_day == 0.9
    assert cfg.groups["all"].pathways == {"home": 0.4, "s1": 0.35, "s2": 0.25}
    assert cfg.groups["all"].los.mean_days == 4.0
    assert list(cfg.services) == ["s1", "s2"]
    assert cfg.services["s1"].pathways == {"home": 0.6, "s2": 0.4}
    assert cfg.services["s2"].los.mean_days == 5.0 and cfg.services["s2"].kind == "discharge"
    assert cfg.horizon_days == 1100 and cfg.warmup_days == 100


# ---------------------------------------------------------------------------------------------
# hospsim against the CTMC


@pytest.mark.parametrize("name", list(CASES))
def test_matches_ctmc(name):
    assert_checks(_describe(name, slow=False), _checks(name, slow=False))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_matches_ctmc_long(name):
    """Ten times longer, half the guard: errors of ~2.5% would show."""
    assert_checks(_describe(name, slow=True), _checks(name, slow=True))


def test_shifted_target_fails():
    """The comparison can fail: targets 5% off fail for every KPI of the fork that is not near 0
    (the same replications as test_matches_ctmc)."""
    for shift in (0.95, 1.05):
        checks = _checks("fork", slow=False, shift=shift)
        material = [c for c in checks if abs(c.exact) > 0.1]
        assert len(material) >= 10
        assert not any(c.passed for c in material), "\n".join(str(c) for c in material if c.passed)
