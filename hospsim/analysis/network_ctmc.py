"""Exact steady state of small networks of bed pools with blocking after service (a CTMC).

Used to validate the simulator's community pathways (issue 11): each node is a pool of places
(acute beds, a rehab unit, home-care slots) with exponential stays, and a patient who has
finished its stay and is ready to move on, but finds no free place at the next node, *keeps the
place it is in* until one frees. The steady state is found exactly, by enumerating every
reachable state of the continuous-time Markov chain and solving the balance equations (sparse
LU), so it is limited to small networks (a few nodes of up to a handful of places each).

Semantics (the rules the simulator implements):

* A patient finishing its stay at node ``i`` draws its destination with ``i``'s ``routing``
  probabilities: ``"exit"`` leaves at once and frees the place; otherwise another node ``j``.
* If ``j`` has an ``assessment_rate`` (the RECEIVING node's assessment, e.g. arranging a care
  package), the patient first spends an Exp(``assessment_rate``) time in its place at ``i``;
  then it is *ready*. Without an assessment it is ready at once.
* A ready patient for ``j`` takes a free place at ``j`` if there is one; otherwise it is
  *blocked*: it keeps its place at ``i`` and joins ``j``'s FIFO queue of ready patients, in order
  of readiness time, across all senders.
* When a place at ``j`` frees, the longest-waiting ready patient for ``j`` (wherever it is) moves
  in, which frees its place at its own node, which may let the head of that node's queue move in,
  and so on: the cascade is resolved instantly and in FIFO order.
* External Poisson arrivals to a full node are refused (``when_full="refuse"``, a loss system,
  so the state space is finite). A ``saturated`` node instead always has a patient waiting
  outside: whenever one of its places frees, a new patient starts a stay there at once (the
  first stage of Hunt's 1956 production line).

Units: rates are per day (``los_rate`` = 1 / mean stay in days), so throughputs are patients
per day, waits are days, and occupancies are places (patients). A state is: per node, the number
in their stay; per (node, destination with an assessment), the number in assessment; per
receiving node, the ordered tuple of the sender nodes of its blocked patients.
"""

from __future__ import annotations

import math
import operator
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

__all__ = ["EXIT", "MAX_STATES", "Arrival", "Network", "NetworkResult", "Node", "NodeResult", "solve"]

EXIT = "exit"
# A guard against runaway enumeration, not a promise: the sparse LU's fill-in grows fast with
# the ordered queues, so in practice (2-core machine) 9,400 states solve in ~3 s and 37,000 in
# ~3 minutes (three nodes of 4 and 5 places); networks for CI should stay under ~10,000 states.
MAX_STATES = 2_000_000
# Routing shares must sum to 1 to this tolerance (they are typed by hand as decimals).
SHARE_SUM_TOL = 1e-9


@dataclass(frozen=True)
class Node:
    """A pool of ``servers`` places with exponential stays of mean ``1 / los_rate`` days.

    ``routing`` maps ``"exit"`` and/or other node names to probabilities summing to 1 (the
    destination after the stay). ``assessment_rate`` (per day) is this node's assessment of
    patients transferring IN, spent in the sender's place; ``None`` or ``inf`` means none.
    """

    name: str
    servers: int
    los_rate: float
    routing: Mapping[str, float] = field(default_factory=lambda: {EXIT: 1.0})
    assessment_rate: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "routing", MappingProxyType(dict(self.routing)))


@dataclass(frozen=True)
class Arrival:
    """External Poisson arrivals at ``rate_per_day`` into node ``node``."""

    node: str
    rate_per_day: float


@dataclass(frozen=True)
class Network:
    """Nodes, external arrivals (refused when the node is full) and an optional saturated node."""

    nodes: tuple[Node, ...]
    arrivals: tuple[Arrival, ...] = ()
    when_full: str = "refuse"
    saturated: str | None = None


@dataclass(frozen=True)
class NodeResult:
    """Steady-state measures of one node. Occupancies in places, rates per day, waits in days.

    ``mean_blocked`` counts patients who have finished their stay here and still hold the place
    (in the receiving node's assessment or waiting for a free place), as the issue's
    ``S_mean_blocked``; ``mean_waiting_for_place`` is the part of it past the assessment.
    ``p_wait`` and ``mean_wait_days`` are over transfers INTO this node from other nodes (NaN if
    none arrive); ``p_refused`` over external arrivals (NaN if none).
    """

    name: str
    servers: int
    mean_occupied: float
    mean_in_stay: float
    mean_blocked: float
    mean_in_assessment: float
    mean_waiting_for_place: float
    utilisation: float
    blocked_share: float
    throughput_per_day: float
    departures_per_day: float
    transfers_in_per_day: float
    p_wait: float
    mean_wait_days: float
    p_full: float
    p_refused: float
    refused_per_day: float


@dataclass(frozen=True)
class NetworkResult:
    """Per-node results (``result["rehab"]``), system measures and solver diagnostics."""

    nodes: Mapping[str, NodeResult]
    system_throughput_per_day: float
    n_states: int
    residual: float
    solve_seconds: float

    def __getitem__(self, name: str) -> NodeResult:
        return self.nodes[name]


# ---------------------------------------------------------------------------------------------
# Validation: the spec compiled to index form


@dataclass(frozen=True)
class _Spec:
    names: tuple[str, ...]
    servers: tuple[int, ...]
    los_rate: tuple[float, ...]
    routes: tuple[tuple[tuple[int, float], ...], ...]  # per node: (destination or -1 = exit, p)
    assess_rate: tuple[float, ...]  # per node; 0.0 = no assessment
    pairs: tuple[tuple[int, int], ...]  # (sender, receiver with assessment) tracked in the state
    pairs_of: tuple[tuple[int, ...], ...]  # per sender: indices into ``pairs``
    arrival_rate: tuple[float, ...]
    saturated: int  # -1 = none


def _positive(value: float, what: str) -> float:
    x = float(value)
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"{what} must be a finite number > 0 (got {value!r})")
    return x


def _check_node(node: Node, names: Mapping[str, int]) -> tuple[int, float, tuple[tuple[int, float], ...]]:
    where = f"node {node.name!r}"
    try:
        servers = operator.index(node.servers)
    except TypeError:
        raise ValueError(f"{where}: servers must be an integer number of places (got {node.servers!r})") from None
    if servers < 1:
        raise ValueError(f"{where}: servers must be >= 1 (got {servers})")
    los_rate = _positive(node.los_rate, f"{where}: los_rate")
    routes = []
    for dest, share in node.routing.items():
        if dest != EXIT and dest not in names:
            raise ValueError(f"{where}: routing names unknown node {dest!r} (known: {', '.join(names)}, {EXIT})")
        if dest == node.name:
            raise ValueError(f"{where}: routing sends patients back to the same node")
        p = float(share)
        if not (0 <= p <= 1):
            raise ValueError(f"{where}: routing share for {dest!r} must be in [0, 1] (got {share!r})")
        if p > 0:
            routes.append((-1 if dest == EXIT else names[dest], p))
    total = math.fsum(p for _, p in routes)
    if abs(total - 1) > SHARE_SUM_TOL:
        raise ValueError(f"{where}: routing shares sum to {total:g}, not 1")
    return servers, los_rate, tuple(routes)


def _check_no_compulsory_cycle(names: tuple[str, ...], routes: tuple[tuple[tuple[int, float], ...], ...]) -> None:
    """A cycle of nodes none of which has an exit share traps patients (certain deadlock)."""
    n = len(names)
    rows = [i for i in range(n) for j, _ in routes[i] if j >= 0]
    cols = [j for i in range(n) for j, _ in routes[i] if j >= 0]
    graph = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    for comp in set(label.tolist()):
        members = [i for i in range(n) if label[i] == comp]
        exits = any(j == -1 for i in members for j, _ in routes[i])
        if len(members) > 1 and not exits:
            cycle = ", ".join(names[i] for i in members)
            raise ValueError(f"routing: compulsory cycle with no exit share among nodes {cycle} (can deadlock)")


def _arrival_rates(network: Network, names: Mapping[str, int]) -> tuple[float, ...]:
    rates = [0.0] * len(names)
    for arrival in network.arrivals:
        if arrival.node not in names:
            raise ValueError(f"arrivals: unknown node {arrival.node!r}")
        rates[names[arrival.node]] += _positive(arrival.rate_per_day, f"arrivals into {arrival.node!r}: rate_per_day")
    return tuple(rates)


def _check_saturated(network: Network, names: Mapping[str, int], rates: tuple[float, ...], routes) -> int:
    if network.saturated is None:
        if not any(rates):
            raise ValueError("network: no external arrivals and no saturated node, so nothing flows")
        return -1
    if network.saturated not in names:
        raise ValueError(f"saturated: unknown node {network.saturated!r}")
    k = names[network.saturated]
    if rates[k] or any(j == k for r in routes for j, _ in r):
        raise ValueError(f"saturated: node {network.saturated!r} must receive no arrivals or transfers")
    return k


def _compile(network: Network) -> _Spec:
    if network.when_full != "refuse":
        raise ValueError(f"when_full must be 'refuse' (a finite state space; got {network.when_full!r})")
    if not network.nodes:
        raise ValueError("network: no nodes")
    names = {node.name: i for i, node in enumerate(network.nodes)}
    if len(names) != len(network.nodes) or EXIT in names:
        raise ValueError(f"nodes: names must be unique and not {EXIT!r}")
    checked = [_check_node(node, names) for node in network.nodes]
    routes = tuple(c[2] for c in checked)
    _check_no_compulsory_cycle(tuple(names), routes)
    assess = []
    for node in network.nodes:
        rate = node.assessment_rate
        assess.append(
            0.0 if rate is None or rate == math.inf else _positive(rate, f"node {node.name!r}: assessment_rate")
        )
    pairs = tuple((i, j) for i, r in enumerate(routes) for j, _ in r if j >= 0 and assess[j] > 0)
    rates = _arrival_rates(network, names)
    return _Spec(
        names=tuple(names),
        servers=tuple(c[0] for c in checked),
        los_rate=tuple(c[1] for c in checked),
        routes=routes,
        assess_rate=tuple(assess),
        pairs=pairs,
        pairs_of=tuple(tuple(a for a, (i, _) in enumerate(pairs) if i == k) for k in range(len(names))),
        arrival_rate=rates,
        saturated=_check_saturated(network, names, rates, routes),
    )


# ---------------------------------------------------------------------------------------------
# Transitions

State = tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]


class _Work:
    """A mutable copy of a state that one event changes, recording where patients were admitted
    and where places freed (the rewards that give throughputs)."""

    def __init__(self, spec: _Spec, state: State) -> None:
        self.spec = spec
        self.stay = list(state[0])
        self.assess = list(state[1])
        self.queues = [list(q) for q in state[2]]
        self.admitted: list[int] = []
        self.freed: list[int] = []

    def frozen(self) -> State:
        return tuple(self.stay), tuple(self.assess), tuple(tuple(q) for q in self.queues)

    def occupied(self, k: int) -> int:
        in_assessment = sum(self.assess[a] for a in self.spec.pairs_of[k])
        return self.stay[k] + in_assessment + sum(q.count(k) for q in self.queues)

    def admit(self, k: int) -> None:
        self.stay[k] += 1
        self.admitted.append(k)

    def free_place(self, k: int) -> None:
        """A place at ``k`` has freed: the cascade of moves it sets off, in FIFO order."""
        while True:
            self.freed.append(k)
            if self.queues[k]:  # the longest-waiting ready patient for k moves in ...
                sender = self.queues[k].pop(0)
                self.admit(k)
                k = sender  # ... and frees its own place
                continue
            if k == self.spec.saturated:
                self.admit(k)
            return

    def ready(self, sender: int, dest: int) -> bool:
        """A patient at ``sender`` (not counted in any state field now) is ready for ``dest``;
        True if it must wait. A node with a free place has an empty queue (every freed place is
        taken at once by the head of the queue), so a free place goes to this patient."""
        if self.occupied(dest) < self.spec.servers[dest]:
            self.admit(dest)
            self.free_place(sender)
            return False
        self.queues[dest].append(sender)
        return True


@dataclass
class _Event:
    state: State
    rate_per_day: float
    admitted: list[int]
    freed: list[int]
    ready_for: int = -1  # a transfer became ready for this node
    waited: bool = False
    exited: bool = False


def _events(spec: _Spec, state: State) -> Iterator[_Event]:
    """Every event possible in ``state``, with its rate and the state it leads to."""
    stay, assess, _ = state
    for k, lam in enumerate(spec.arrival_rate):
        w = _Work(spec, state)
        if lam and w.occupied(k) < spec.servers[k]:
            w.admit(k)
            yield _Event(w.frozen(), lam, w.admitted, w.freed)
    for i, n_stay in enumerate(stay):
        for dest, p in spec.routes[i] if n_stay else ():
            w = _Work(spec, state)
            w.stay[i] -= 1
            rate = n_stay * spec.los_rate[i] * p
            if dest == -1:
                w.free_place(i)
                yield _Event(w.frozen(), rate, w.admitted, w.freed, exited=True)
            elif spec.assess_rate[dest]:
                w.assess[spec.pairs.index((i, dest))] += 1
                yield _Event(w.frozen(), rate, w.admitted, w.freed)
            else:
                waited = w.ready(i, dest)
                yield _Event(w.frozen(), rate, w.admitted, w.freed, ready_for=dest, waited=waited)
    for a, n_assess in enumerate(assess):
        if n_assess:
            i, dest = spec.pairs[a]
            w = _Work(spec, state)
            w.assess[a] -= 1
            waited = w.ready(i, dest)
            rate = n_assess * spec.assess_rate[dest]
            yield _Event(w.frozen(), rate, w.admitted, w.freed, ready_for=dest, waited=waited)


# ---------------------------------------------------------------------------------------------
# Enumeration and solution

# Per-state reward rates, per node: patients admitted, places freed, transfers becoming ready,
# those of them finding no place; per state: exits from the system.
_REWARDS = ("admitted", "freed", "ready", "waited")


@dataclass
class _Chain:
    states: list[State]
    rows: list[int]
    cols: list[int]
    rates: list[float]
    rewards: dict[str, tuple[list[int], list[int], list[float]]]
    exit_rows: list[int]
    exit_rates: list[float]


def _initial_state(spec: _Spec) -> State:
    n = len(spec.names)
    stay = tuple(spec.servers[k] if k == spec.saturated else 0 for k in range(n))
    return stay, (0,) * len(spec.pairs), ((),) * n


def _add_rewards(chain: _Chain, s: int, event: _Event) -> None:
    lists = {"admitted": event.admitted, "freed": event.freed}
    if event.ready_for >= 0:
        lists["ready"] = [event.ready_for]
        if event.waited:
            lists["waited"] = [event.ready_for]
    for name, nodes in lists.items():
        rows, cols, vals = chain.rewards[name]
        for k in nodes:
            rows.append(s)
            cols.append(k)
            vals.append(event.rate_per_day)
    if event.exited:
        chain.exit_rows.append(s)
        chain.exit_rates.append(event.rate_per_day)


def _enumerate(spec: _Spec, max_states: int) -> _Chain:
    """Breadth-first search of the states reachable from the empty (or saturated) state."""
    start = _initial_state(spec)
    index = {start: 0}
    chain = _Chain([start], [], [], [], {r: ([], [], []) for r in _REWARDS}, [], [])
    todo = deque([start])
    while todo:
        state = todo.popleft()
        s = index[state]
        for event in _events(spec, state):
            t = index.get(event.state)
            if t is None:
                if len(index) >= max_states:
                    raise ValueError(f"network: more than {max_states:,} states; too big for the exact solver")
                t = index[event.state] = len(index)
                chain.states.append(event.state)
                todo.append(event.state)
            if t != s:  # an event that leaves the state unchanged (a saturated refill) is no move
                chain.rows.append(s)
                chain.cols.append(t)
                chain.rates.append(event.rate_per_day)
            _add_rewards(chain, s, event)
    return chain


def _generator(chain: _Chain) -> sp.csr_matrix:
    n = len(chain.states)
    off = sp.csr_matrix((chain.rates, (chain.rows, chain.cols)), shape=(n, n))
    n_classes, _ = connected_components(off, directed=True, connection="strong")
    if n_classes > 1:
        # Blocking after service can deadlock on any routing cycle, exit share or not: A full of
        # patients waiting for B while B is full of patients waiting for A. Then the chain has
        # absorbing classes and no unique steady state.
        raise ValueError("network: can deadlock (a reachable state from which the start cannot be reached)")
    return (off - sp.diags(np.asarray(off.sum(axis=1)).ravel())).tocsr()


def _stationary(q: sp.csr_matrix) -> tuple[np.ndarray, float]:
    """pi Q = 0, sum(pi) = 1. The chain is irreducible, so pinning pi of the start state to 1
    leaves a nonsingular system in the others: the balance equations of states 1..n-1 (the
    start's own equation is implied by the rest), then normalised. Pinning, unlike replacing an
    equation by the dense normalisation row, keeps the matrix sparse (the LU fill-in of a dense
    row made 37,000 states take minutes). Returns pi and the largest balance residual relative
    to the largest exit rate of a state."""
    n = q.shape[0]
    if n == 1:
        return np.ones(1), 0.0
    qt = q.T.tocsc()
    rest = spsolve(qt[1:, 1:].tocsc(), -qt[1:, 0].toarray().ravel())
    pi = np.concatenate([[1.0], np.asarray(rest).ravel()])
    pi /= pi.sum()
    scale = max(float(abs(q.diagonal()).max()), 1.0)
    residual = float(abs(qt @ pi).max()) / scale
    if not (residual <= 1e-9 and pi.min() >= -1e-12):
        raise ArithmeticError(f"CTMC solve inaccurate: residual {residual:.3g}, min pi {pi.min():.3g}")
    return np.clip(pi, 0.0, None), residual


# ---------------------------------------------------------------------------------------------
# Measures


def _state_counts(spec: _Spec, states: list[State]) -> dict[str, np.ndarray]:
    """Per state and node: in stay, in assessment, waiting for a place (places held)."""
    n = len(spec.names)
    stay = np.array([s[0] for s in states], dtype=float).reshape(len(states), n)
    assess = np.zeros((len(states), n))
    waiting = np.zeros((len(states), n))
    queued_for = np.zeros((len(states), n))
    for s, (_, a, queues) in enumerate(states):
        for p, count in enumerate(a):
            assess[s, spec.pairs[p][0]] += count
        for dest, queue in enumerate(queues):
            queued_for[s, dest] = len(queue)
            for sender in queue:
                waiting[s, sender] += 1
    return {"stay": stay, "assess": assess, "waiting": waiting, "queued_for": queued_for}


def _reward_means(chain: _Chain, pi: np.ndarray, n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, (rows, cols, vals) in chain.rewards.items():
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(pi), n))
        out[name] = m.T @ pi
    return out


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _node_results(spec: _Spec, chain: _Chain, pi: np.ndarray) -> dict[str, NodeResult]:
    n = len(spec.names)
    per_state = _state_counts(spec, chain.states)
    counts = {k: v.T @ pi for k, v in per_state.items()}
    flows = _reward_means(chain, pi, n)
    occupied = counts["stay"] + counts["assess"] + counts["waiting"]
    held = per_state["stay"] + per_state["assess"] + per_state["waiting"]
    p_full = (held >= np.array(spec.servers)).astype(float).T @ pi
    results = {}
    for k, name in enumerate(spec.names):
        lam = spec.arrival_rate[k]
        blocked = counts["assess"][k] + counts["waiting"][k]
        results[name] = NodeResult(
            name=name,
            servers=spec.servers[k],
            mean_occupied=float(occupied[k]),
            mean_in_stay=float(counts["stay"][k]),
            mean_blocked=float(blocked),
            mean_in_assessment=float(counts["assess"][k]),
            mean_waiting_for_place=float(counts["waiting"][k]),
            utilisation=float(occupied[k] / spec.servers[k]),
            blocked_share=float(blocked / spec.servers[k]),
            throughput_per_day=float(flows["admitted"][k]),
            departures_per_day=float(flows["freed"][k]),
            transfers_in_per_day=float(flows["ready"][k]),
            # Rate-weighted over states, not the time share of states with the node full: ready
            # patients do not arrive as a Poisson stream (they become ready more often in some
            # states than others, e.g. when the sender is busy, which is when the receiver is
            # busy too), so PASTA does not hold and the time share would be biased.
            p_wait=_ratio(float(flows["waited"][k]), float(flows["ready"][k])),
            # Little's law over all transfers into k (those admitted at once wait 0 days).
            mean_wait_days=_ratio(float(counts["queued_for"][k]), float(flows["ready"][k])),
            p_full=float(p_full[k]),
            # External arrivals are Poisson, so by PASTA they see the time-average state.
            p_refused=float(p_full[k]) if lam else math.nan,
            refused_per_day=float(lam * p_full[k]),
        )
    return results


def solve(network: Network, max_states: int = MAX_STATES) -> NetworkResult:
    """Exact steady state of ``network`` (see the module docstring for the rules).

    Raises ``ValueError`` (one line naming the field) for a bad spec, a compulsory routing
    cycle, a network that can deadlock, or more than ``max_states`` reachable states.
    """
    spec = _compile(network)
    started = time.perf_counter()
    chain = _enumerate(spec, max_states)
    pi, residual = _stationary(_generator(chain))
    nodes = _node_results(spec, chain, pi)
    exits = float(np.bincount(chain.exit_rows, weights=chain.exit_rates, minlength=len(pi)) @ pi)
    return NetworkResult(
        nodes=MappingProxyType(nodes),
        system_throughput_per_day=exits,
        n_states=len(chain.states),
        residual=residual,
        solve_seconds=time.perf_counter() - started,
    )
