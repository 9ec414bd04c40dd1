"""The exact network CTMC solver (``hospsim.analysis.network_ctmc``) against exact and published
results, flow conservation, and an independent stochastic (Gillespie) simulation of the same rules.

* One node with loss: Erlang B and the carried load a(1 - B).
* Two nodes in a chain where the second never blocks: node 1 is Erlang B on its whole holding
  time (stay + the receiving node's assessment), node 2 holds throughput x mean stay, node 1's
  mean blocked is throughput x routed share x mean assessment.
* Hunt 1956 / Hillier & Boling 1967: balanced single-place exponential stages in series, no
  buffer, first stage saturated, blocking after service: 2/3 and 0.5641 of a stage's rate.
* A fork and a chain with a merge (two senders competing FIFO for one receiver): flow
  conservation, bounds, and agreement with a Gillespie simulation written here.
* Bad specs: one clear ValueError each.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import VALIDATION_DIR
from scipy import stats

from hospsim.analysis.network_ctmc import Arrival, Network, Node, solve
from hospsim.analysis.queueing import erlang_b, mgcc_mean_occupied

# ---------------------------------------------------------------------------------------------
# Limit cases with exact answers


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (3, 2.0), (6, 5.5), (10, 9.0), (4, 12.0)])
def test_single_node_is_erlang_b(c, a):
    mean_stay_days = 5.0
    arrivals_per_day = a / mean_stay_days
    net = Network((Node("acute", c, 1 / mean_stay_days),), (Arrival("acute", arrivals_per_day),))
    r = solve(net)["acute"]
    b = erlang_b(c, a)
    assert r.p_refused == pytest.approx(b, rel=1e-10)
    assert r.mean_occupied == pytest.approx(mgcc_mean_occupied(c, a), rel=1e-10)
    assert r.throughput_per_day == pytest.approx(arrivals_per_day * (1 - b), rel=1e-10)
    assert r.refused_per_day == pytest.approx(arrivals_per_day * b, rel=1e-10)
    assert r.mean_blocked == 0.0


@pytest.mark.parametrize("assessment_days", [None, 2.0])
def test_chain_into_ample_node(assessment_days):
    """Downstream so large it (practically) never blocks: node 1 is an M/G/c/c loss system whose
    holding time is the stay plus, for the routed share, the receiving node's assessment."""
    c1, lam, stay1, share, stay2 = 3, 0.8, 2.5, 0.6, 4.0
    alpha = None if assessment_days is None else 1 / assessment_days
    net = Network(
        (
            Node("acute", c1, 1 / stay1, {"rehab": share, "exit": 1 - share}),
            Node("rehab", 25, 1 / stay2, assessment_rate=alpha),
        ),
        (Arrival("acute", lam),),
    )
    res = solve(net)
    acute, rehab = res["acute"], res["rehab"]
    assert rehab.p_wait < 1e-12  # the premise: node 2 never blocks node 1
    a1 = lam * (stay1 + share * (assessment_days or 0.0))
    assert acute.p_refused == pytest.approx(erlang_b(c1, a1), rel=1e-9)
    assert acute.mean_occupied == pytest.approx(mgcc_mean_occupied(c1, a1), rel=1e-9)
    assert rehab.throughput_per_day == pytest.approx(acute.throughput_per_day * share, rel=1e-9)
    assert rehab.mean_occupied == pytest.approx(rehab.throughput_per_day * stay2, rel=1e-9)
    assert acute.mean_blocked == pytest.approx(acute.throughput_per_day * share * (assessment_days or 0.0), abs=1e-9)
    assert acute.mean_waiting_for_place == pytest.approx(0.0, abs=1e-10)
    assert res.system_throughput_per_day == pytest.approx(acute.throughput_per_day, rel=1e-9)


def _serial_line(stages: int, rate_per_day: float) -> Network:
    nodes = tuple(
        Node(f"s{k}", 1, rate_per_day, {f"s{k + 1}": 1.0} if k < stages - 1 else {"exit": 1.0}) for k in range(stages)
    )
    return Network(nodes, saturated="s0")


def _published(quantity: str) -> tuple[float, float]:
    import csv

    with (VALIDATION_DIR / "published_checks.csv").open(newline="", encoding="utf-8") as f:
        (row,) = [r for r in csv.DictReader(f) if r["quantity"] == quantity]
    return float(row["published"]), float(row["computed"])


@pytest.mark.parametrize(("stages", "quantity"), [(2, "serial line throughput K=2"), (3, "serial line throughput K=3")])
@pytest.mark.parametrize("rate_per_day", [1.0, 0.25])
def test_hunt_serial_line(stages, quantity, rate_per_day):
    published, computed = _published(quantity)
    res = solve(_serial_line(stages, rate_per_day))
    throughput = res.system_throughput_per_day / rate_per_day  # in units of a stage's rate
    assert throughput == pytest.approx(computed, abs=1e-10)  # 2/3 and 22/39, printed to 10 dp
    assert abs(throughput - published) <= 0.5e-4  # the published value, to its 4 printed dp
    for node in res.nodes.values():
        assert node.throughput_per_day == pytest.approx(res.system_throughput_per_day, rel=1e-10)
        assert node.mean_in_stay == pytest.approx(throughput, abs=1e-12)  # Little: rate x 1/rate
    assert res["s0"].mean_occupied == pytest.approx(1.0, abs=1e-12)  # the saturated stage is always held


def test_hunt_two_stages_by_hand():
    """Two stages: states (1 in stay, 2 empty), (both in stay), (1 blocked, 2 in stay), each 1/3;
    stage 1 is blocked a third of the time and its place is taken by the blocked patient."""
    res = solve(_serial_line(2, 1.0))
    assert res.n_states == 3
    assert res["s0"].mean_blocked == pytest.approx(1 / 3, abs=1e-12)
    assert res["s1"].p_wait == pytest.approx(1 / 2, abs=1e-12)  # half the stage-1 finishers wait
    assert res["s1"].mean_wait_days == pytest.approx(1 / 2, abs=1e-12)  # (1/3) / (2/3)


# ---------------------------------------------------------------------------------------------
# Networks with real blocking

FORK = Network(
    (
        Node("acute", 4, 1 / 4.0, {"exit": 0.4, "rehab": 0.35, "care_home": 0.25}),
        Node("rehab", 2, 1 / 8.0, assessment_rate=1 / 1.5),
        Node("care_home", 2, 1 / 10.0, assessment_rate=1 / 3.0),
    ),
    (Arrival("acute", 0.9),),
)
# A chain with exit shares and a merge: home receives from acute and rehab, FIFO across them.
CHAIN = Network(
    (
        Node("acute", 3, 1 / 3.0, {"exit": 0.3, "rehab": 0.5, "home": 0.2}),
        Node("rehab", 3, 1 / 7.0, {"home": 0.6, "exit": 0.4}),
        Node("home", 2, 1 / 5.0, assessment_rate=1 / 2.0),
    ),
    (Arrival("acute", 0.8), Arrival("rehab", 0.05)),
)
NETWORKS = {"fork": FORK, "chain": CHAIN}


@pytest.fixture(scope="module", params=list(NETWORKS))
def solved(request):
    net = NETWORKS[request.param]
    return request.param, net, solve(net)


def test_flow_conservation_and_bounds(solved):
    _, net, res = solved
    exits = 0.0
    for node in net.nodes:
        r = res[node.name]
        assert r.throughput_per_day == pytest.approx(r.departures_per_day, abs=1e-10)  # in = out
        assert r.throughput_per_day == pytest.approx(r.mean_in_stay * node.los_rate, abs=1e-10)
        external = sum(a.rate_per_day for a in net.arrivals if a.node == node.name)
        admitted_external = external * (1 - r.p_full)
        assert r.throughput_per_day == pytest.approx(admitted_external + r.transfers_in_per_day, abs=1e-10)
        exits += r.mean_in_stay * node.los_rate * node.routing.get("exit", 0.0)
        assert 0 <= r.mean_waiting_for_place <= r.mean_blocked <= r.mean_occupied <= node.servers + 1e-12
        for p in (r.p_full, r.utilisation, r.blocked_share):
            assert -1e-12 <= p <= 1 + 1e-12
        if r.transfers_in_per_day:
            assert 0 <= r.p_wait <= 1 and r.mean_wait_days >= 0
    assert res.system_throughput_per_day == pytest.approx(exits, abs=1e-10)
    offered = sum(a.rate_per_day for a in net.arrivals)
    refused = sum(res[n.name].refused_per_day for n in net.nodes)
    assert res.system_throughput_per_day == pytest.approx(offered - refused, abs=1e-10)
    assert res.residual < 1e-12


def test_networks_block(solved):
    """The premise of the Gillespie comparison: blocking is not negligible, so getting the
    blocked states wrong would show."""
    name, _, res = solved
    assert res["acute"].mean_waiting_for_place > 0.05, name
    assert res["acute"].mean_blocked > 0.3, name


# ---------------------------------------------------------------------------------------------
# An independent Gillespie simulation of the same rules: patients counted by where they are,
# places held counted per node, each receiving node's queue a deque of the senders of its ready
# patients in readiness order.


@dataclass
class _Batch:
    days: float = 0.0
    occupied: np.ndarray | None = None
    blocked: np.ndarray | None = None
    waiting: np.ndarray | None = None
    full: np.ndarray | None = None
    queued_for: np.ndarray | None = None
    admitted: np.ndarray | None = None
    ready: np.ndarray | None = None
    waited: np.ndarray | None = None


class _Gillespie:
    def __init__(self, net: Network, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names = [n.name for n in net.nodes]
        self.ix = {k: i for i, k in enumerate(self.names)}
        n = len(self.names)
        self.servers = [node.servers for node in net.nodes]
        self.mu = [node.los_rate for node in net.nodes]
        self.alpha = [node.assessment_rate or 0.0 for node in net.nodes]
        self.routes = [[(-1 if d == "exit" else self.ix[d], p) for d, p in node.routing.items()] for node in net.nodes]
        self.lam = [0.0] * n
        for a in net.arrivals:
            self.lam[self.ix[a.node]] += a.rate_per_day
        self.held = [0] * n
        self.in_stay = [0] * n
        self.assessing: list[tuple[int, int]] = []  # one entry per patient: (at, destination)
        self.assess_at = [0] * n
        self.blocked_at = [0] * n
        self.queue: list[deque[int]] = [deque() for _ in range(n)]
        self.count = {k: [0] * n for k in ("admitted", "ready", "waited")}

    def _admit(self, k: int) -> None:
        self.held[k] += 1
        self.in_stay[k] += 1
        self.count["admitted"][k] += 1

    def _free(self, k: int) -> None:
        self.held[k] -= 1
        if self.queue[k]:
            sender = self.queue[k].popleft()
            self.blocked_at[sender] -= 1
            self._admit(k)
            self._free(sender)

    def _ready(self, at: int, dest: int) -> None:
        self.count["ready"][dest] += 1
        if self.held[dest] < self.servers[dest]:
            self._admit(dest)
            self._free(at)
        else:
            self.count["waited"][dest] += 1
            self.queue[dest].append(at)
            self.blocked_at[at] += 1

    def _finish_stay(self, k: int) -> None:
        self.in_stay[k] -= 1
        u, dest = self.rng.random(), -1
        for d, p in self.routes[k]:
            u -= p
            if u < 0:
                dest = d
                break
        if dest == -1:
            self._free(k)
        elif self.alpha[dest]:
            self.assessing.append((k, dest))
            self.assess_at[k] += 1
        else:
            self._ready(k, dest)

    def _step(self, t_end: float, t: float, acc: _Batch) -> float:
        n = len(self.names)
        events = [(self.lam[k], 0, k) for k in range(n) if self.lam[k]]
        events += [(self.in_stay[k] * self.mu[k], 1, k) for k in range(n) if self.in_stay[k]]
        events += [(self.alpha[d], 2, i) for i, (_, d) in enumerate(self.assessing)]
        total = sum(e[0] for e in events)
        dt = self.rng.expovariate(total)
        span = min(dt, t_end - t)
        acc.occupied += span * np.array(self.held)
        acc.blocked += span * (np.array(self.assess_at) + np.array(self.blocked_at))
        acc.waiting += span * np.array(self.blocked_at)
        acc.full += span * (np.array(self.held) >= np.array(self.servers))
        acc.queued_for += span * np.array([len(q) for q in self.queue])
        if t + dt >= t_end:  # memoryless: stop at the batch end and redraw from there
            return t_end
        u = self.rng.random() * total
        chosen = events[-1]  # if rounding leaves u >= 0 after the last event
        for event in events:
            u -= event[0]
            if u < 0:
                chosen = event
                break
        _, kind, k = chosen
        if kind == 0:
            if self.held[k] < self.servers[k]:
                self._admit(k)
        elif kind == 1:
            self._finish_stay(k)
        else:
            at, dest = self.assessing[k]
            self.assessing[k] = self.assessing[-1]
            self.assessing.pop()
            self.assess_at[at] -= 1
            self._ready(at, dest)
        return t + dt

    def run(self, warmup_days: float, batch_days: float, batches: int) -> list[_Batch]:
        out = []
        n = len(self.names)
        for b in range(batches + 1):  # batch 0 is the warm-up, discarded
            days = warmup_days if b == 0 else batch_days
            acc = _Batch(days, *(np.zeros(n) for _ in range(5)))
            start = {k: list(v) for k, v in self.count.items()}
            t = 0.0
            while t < days:
                t = self._step(days, t, acc)
            acc.admitted, acc.ready, acc.waited = (
                np.array(self.count[k]) - np.array(start[k]) for k in ("admitted", "ready", "waited")
            )
            out.append(acc)
        return out[1:]


def _batch_estimates(batches: list[_Batch]) -> dict[str, np.ndarray]:
    """Per batch (rows) and node (columns): the measures the solver gives."""
    est = {
        "mean_occupied": np.array([b.occupied / b.days for b in batches]),
        "mean_blocked": np.array([b.blocked / b.days for b in batches]),
        "mean_waiting_for_place": np.array([b.waiting / b.days for b in batches]),
        "throughput_per_day": np.array([b.admitted / b.days for b in batches]),
        "p_full": np.array([b.full / b.days for b in batches]),
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        est["p_wait"] = np.array([b.waited / b.ready for b in batches])
        # Little: mean number queued for the node / transfers into it per day.
        est["mean_wait_days"] = np.array([(b.queued_for / b.days) / (b.ready / b.days) for b in batches])
    return est


def _gillespie_misfits(
    net: Network, seed: int, batch_days: float, batches: int, z: float, sim: type[_Gillespie] = _Gillespie
) -> list[str]:
    """The exact measures outside the simulation's batch-means interval at the level of ``z``."""
    res = solve(net)
    est = _batch_estimates(sim(net, seed).run(200.0, batch_days, batches))
    t_crit = stats.t.ppf(stats.norm.cdf(z), batches - 1)  # two-sided, the level of z
    misfits = []
    for measure, values in est.items():
        for k, name in enumerate(n.name for n in net.nodes):
            exact = getattr(res[name], measure)
            if math.isnan(exact):
                continue
            column = values[:, k]
            half = t_crit * column.std(ddof=1) / math.sqrt(batches)
            if not abs(column.mean() - exact) <= half + 1e-9:
                misfits.append(f"{name}.{measure}: exact {exact:.5f}, simulated {column.mean():.5f} ± {half:.5f}")
    return misfits


@pytest.mark.parametrize("name", list(NETWORKS))
def test_agrees_with_gillespie(name):
    """A short run (~1 s each, ~200,000 events) at a ~99.9% batch-means interval: catches gross
    errors in the state space, e.g. a blocked patient who does not hold its place or a cascade
    that stops."""
    assert _gillespie_misfits(NETWORKS[name], seed=11, batch_days=3_000.0, batches=20, z=3.29) == []


class _AcuteFirst(_Gillespie):
    """The same rules except the FIFO: a freed place goes to a patient waiting in acute first."""

    def _free(self, k: int) -> None:
        self.held[k] -= 1
        queue = self.queue[k]
        if queue:
            i = queue.index(0) if 0 in queue else 0
            sender = queue[i]
            del queue[i]
            self.blocked_at[sender] -= 1
            self._admit(k)
            self._free(sender)


class _BlockedLeaves(_Gillespie):
    """A gross error: a blocked patient gives up its place while it waits (blocking ignored)."""

    def _ready(self, at: int, dest: int) -> None:
        if self.held[dest] < self.servers[dest]:
            super()._ready(at, dest)
            return
        self.count["ready"][dest] += 1
        self.count["waited"][dest] += 1
        self.queue[dest].append(-1)  # waits, but not in a place of ours
        self._free(at)

    def _free(self, k: int) -> None:
        self.held[k] -= 1
        if self.queue[k]:
            sender = self.queue[k].popleft()
            self._admit(k)
            if sender >= 0:
                self.blocked_at[sender] -= 1
                self._free(sender)


def test_gillespie_comparison_can_fail():
    """The short comparison rejects a simulator in which blocked patients do not hold their place."""
    misfits = _gillespie_misfits(CHAIN, seed=11, batch_days=3_000.0, batches=20, z=3.29, sim=_BlockedLeaves)
    assert any(m.startswith("acute.mean_occupied") for m in misfits), misfits


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NETWORKS))
def test_agrees_with_gillespie_long(name):
    """Twenty times longer (~40 s each): intervals about 4.5 times narrower, so smaller errors in
    the FIFO cascade (which sender a freed place goes to) would show in the per-node blocked counts."""
    assert _gillespie_misfits(NETWORKS[name], seed=2026, batch_days=30_000.0, batches=40, z=3.29) == []


# ---------------------------------------------------------------------------------------------
# Bad specs


def _one_line(exc: pytest.ExceptionInfo[ValueError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_routing_must_sum_to_one():
    net = Network((Node("acute", 2, 0.2, {"exit": 0.5, "rehab": 0.4}), Node("rehab", 1, 0.1)), (Arrival("acute", 1),))
    with pytest.raises(ValueError, match=r"node 'acute': routing shares sum to 0\.9, not 1") as exc:
        solve(net)
    _one_line(exc)


def test_unknown_node():
    net = Network((Node("acute", 2, 0.2, {"exit": 0.5, "rehab": 0.5}),), (Arrival("acute", 1),))
    with pytest.raises(ValueError, match=r"node 'acute': routing names unknown node 'rehab'") as exc:
        solve(net)
    _one_line(exc)
    with pytest.raises(ValueError, match=r"arrivals: unknown node 'ward'"):
        solve(Network((Node("acute", 2, 0.2),), (Arrival("ward", 1),)))


def test_compulsory_cycle():
    net = Network(
        (
            Node("acute", 2, 0.2, {"rehab": 1.0}),
            Node("rehab", 2, 0.1, {"home": 1.0}),
            Node("home", 2, 0.1, {"rehab": 1.0}),
        ),
        (Arrival("acute", 1),),
    )
    with pytest.raises(
        ValueError, match=r"routing: compulsory cycle with no exit share among nodes rehab, home"
    ) as exc:
        solve(net)
    _one_line(exc)


def test_cycle_with_exit_share_can_still_deadlock():
    """An exit share on a cycle does not prevent deadlock under blocking after service: acute's
    one place held by a patient waiting for rehab, rehab's by one waiting for acute."""
    net = Network(
        (Node("acute", 1, 0.2, {"rehab": 1.0}), Node("rehab", 1, 0.1, {"acute": 0.5, "exit": 0.5})),
        (Arrival("acute", 1),),
    )
    with pytest.raises(ValueError, match=r"network: can deadlock") as exc:
        solve(net)
    _one_line(exc)


def test_too_many_states():
    with pytest.raises(ValueError, match=r"more than 50 states; too big for the exact solver") as exc:
        solve(FORK, max_states=50)
    _one_line(exc)


@pytest.mark.slow
def test_long_gillespie_comparison_can_fail():
    """The long comparison rejects a simulator that breaks only the FIFO across senders: rehab's
    blocked patients wait behind acute's (rehab mean blocked 0.565 against 0.523 exact, z ~ 20)."""
    misfits = _gillespie_misfits(CHAIN, seed=2026, batch_days=30_000.0, batches=40, z=3.29, sim=_AcuteFirst)
    assert any(m.startswith("rehab.mean_blocked") for m in misfits), misfits
