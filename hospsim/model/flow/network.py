"""The stocks and delays of a config, as arrays for the flow kernel.

A *stage* is a stay with a length-of-stay distribution: an acute stay of a patient group (until
medically fit), a community stay, or an assessment (spent in the place the patient holds). Its
exits go on by *routes* (home, or on to a service). A stage whose destinations' mix changes over
time is split into one stage per destination, its inflow weighted by the day's share
(``stage_weight``), so each patient keeps the route of the day it entered; a constant mix is one
stage with fixed route shares. The *holder* of a stage is where its patients are: an acute bed
(0) or a place of service ``s`` (``1 + s``).

Kernels (:class:`KernelBank`) are the exact exit shares of each distribution and multiplier in
the plan: hour by hour for 48 hours after entry, then per 24-hour window (see the class).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from pydantic import TypeAdapter

from ...config import Config
from ...config.distributions import Empirical, Fixed, LosDistribution
from ..engine import assessment_flags
from ..plan import Levers
from .los import HOURS_PER_DAY, NEAR_STEPS, STEP_DAYS, stop_loss_days

_SPEC: TypeAdapter[LosDistribution] = TypeAdapter(LosDistribution)
ACUTE, SERVICE, ASSESS = 0, 1, 2  # stage kinds, in the order their exits are taken each step
HOME = -1
BED = 0  # holder: an acute bed (a service s is 1 + s)


@dataclass(frozen=True)
class Slot:
    """One length-of-stay distribution and its multiplier per day."""

    spec: LosDistribution
    multiplier_by_day: np.ndarray
    gated: bool = False  # a gate may rewrite the multiplier: no exact per-hour far kernel


@dataclass(frozen=True)
class Stage:
    """One stay: which slot times it, where its patients are and where they go next."""

    kind: int
    slot: int
    holder: int  # 0: acute bed; 1 + s: a place of service s
    source: int  # groups 0..G (electives G), then service s entries G + 1 + s; -1: assessment
    routes: tuple[tuple[int, float], ...]  # (destination: HOME or service index, share)
    weight_by_day: np.ndarray | None  # share of the source's inflow on each day (None: all of it)
    target: int = -1  # assessment: the service whose queue it feeds
    emergency: bool = False  # an acute stay of an emergency group


def _mix_shares(cumulative: list[tuple[float, ...]]) -> np.ndarray:
    """Per day and destination: the mix's shares from its cumulative form."""
    cum = np.asarray(cumulative, dtype=float)
    return np.diff(cum, axis=1, prepend=0.0)


class _Builder:
    def __init__(self, cfg: Config, lv: Levers, gated: frozenset[str]) -> None:
        self.cfg, self.lv, self.gated = cfg, lv, gated
        self.n_days = cfg.horizon_days
        self.slots: list[Slot] = []
        self.stages: list[Stage] = []
        self.has_assessment = assessment_flags(cfg)

    def slot(self, spec: LosDistribution, multiplier: list[float] | None, path: str = "") -> int:
        mult = np.ones(self.n_days) if multiplier is None else np.asarray(multiplier, dtype=float)
        self.slots.append(Slot(spec, mult, path in self.gated))
        return len(self.slots) - 1

    def routed(
        self,
        kind: int,
        slot: int,
        holder: int,
        source: int,
        dests: tuple[int, ...],
        cum: list[tuple[float, ...]],
        owner: str,
        em: bool,
    ) -> None:
        shares = _mix_shares(cum)
        if np.all(shares == shares[0]) and f"{owner}.pathways_change" not in self.gated:  # a constant mix: one stage
            routes = tuple((d, float(s)) for d, s in zip(dests, shares[0]) if s > 0)
            self.stages.append(Stage(kind, slot, holder, source, routes, None, emergency=em))
            return
        gated = f"{owner}.pathways_change" in self.gated  # any destination may open: keep them all
        for i, d in enumerate(dests):
            if gated or np.any(shares[:, i] > 0):
                self.stages.append(Stage(kind, slot, holder, source, ((d, 1.0),), shares[:, i].copy(), emergency=em))

    def build(self) -> tuple[list[Slot], list[Stage]]:
        cfg, lv = self.cfg, self.lv
        n_groups = len(cfg.groups)
        owners = [(f"groups.{name}", g.los) for name, g in cfg.groups.items()]
        if cfg.demand.elective is not None:
            owners.append(("demand.elective", cfg.demand.elective.los))
        for g, (owner, spec) in enumerate(owners):
            slot = self.slot(spec, lv.los_multiplier[g], f"{owner}.los_multiplier")
            self.routed(ACUTE, slot, BED, g, lv.pathway_service[g], lv.pathway_cumulative[g], owner, g < n_groups)
        services = list(cfg.services.items())
        for s, (name, svc) in enumerate(services):
            slot = self.slot(svc.los, None)
            dests, cum = lv.onward_service[s], lv.onward_cumulative[s]
            self.routed(SERVICE, slot, 1 + s, n_groups + 1 + s, dests, cum, f"services.{name}", False)
        for s2, (name, svc) in enumerate(services):
            if not self.has_assessment[s2] or svc.assessment is None:
                continue
            slot = self.slot(svc.assessment, lv.assessment_multiplier[s2], f"services.{name}.assessment_multiplier")
            for holder in self._senders(s2):
                self.stages.append(Stage(ASSESS, slot, holder, -1, ((s2, 1.0),), None, target=s2))
        order = sorted(range(len(self.stages)), key=lambda i: self.stages[i].kind)  # stable
        return self.slots, [self.stages[i] for i in order]

    def _senders(self, s2: int) -> list[int]:
        """Holders whose patients may be referred to service ``s2``: beds and services routing to it."""
        lv = self.lv
        out = []
        if any(s2 in dests for dests in lv.pathway_service):
            out.append(BED)
        out += [1 + s for s, dests in enumerate(lv.onward_service) if s2 in dests]
        return out


def build_network(cfg: Config, lv: Levers, gated: frozenset[str] = frozenset()) -> tuple[list[Slot], list[Stage]]:
    """The slots and stages of ``cfg`` under the levers ``lv`` (stages ordered by kind);
    ``gated``: the schedules a gate may rewrite (their stages are built to follow any value)."""
    return _Builder(cfg, lv, gated).build()


@dataclass(frozen=True)
class KernelBank:
    """Exit shares of every (slot, multiplier) row, as the kernel reads them.

    An inflow spread evenly over one hour leaves ``near[row, k]`` of itself in the k-th hour
    after (k < 48); ``rest[row]`` is still there after 48 hours. From then on it leaves in
    windows of 24 hours (hours 48 + 24m .. 71 + 24m after entry): ``far_shape[row, m]`` of the
    rest in window m. A window of entry hour j straddles a midnight: for a constant slot (``c =
    exact_of[slot]``), ``part_a[c, j, m]`` / ``part_b[c, j, m]`` are the exact shares leaving
    before / after it; otherwise the window is split by its hours. ``row_of[slot, day]``: the
    row in force on each day (blended with ``row_up`` by ``row_w`` for a ramp's grid); ``mean_days[row]``: the mean stay; ``present_daily[row, n]``: the
    share of a day's even inflow still there at the end of the n-th day after.
    """

    near: np.ndarray
    rest: np.ndarray
    far_shape: np.ndarray
    part_a: np.ndarray  # [c, j, m]
    part_b: np.ndarray
    exact_of: np.ndarray
    row_of: np.ndarray
    row_up: np.ndarray  # [slot, day]: the grid row above (a ramp's), or row_of
    row_w: np.ndarray  # [slot, day]: the weight on row_up (0: row_of alone)
    mean_days: np.ndarray
    present_daily: np.ndarray
    # A fixed or empirical stay (point masses) is scheduled exactly instead: an hour's inflow
    # leaves ``sparse_share[row, i]`` of itself ``sparse_lag[row, i]`` hours on (i < sparse_n[row]).
    sparse_n: np.ndarray
    sparse_lag: np.ndarray
    sparse_share: np.ndarray
    # part_a and part_b of each constant slot in rank FAR_RANK, part[j, m] = sum_r u[j, r] v[r, m]
    # (exact to ~1e-11 of the largest share): a day's windows then cost FAR_RANK sums, not 24.
    u_a: np.ndarray  # [c, j, r]
    v_a: np.ndarray  # [c, r, m]
    u_b: np.ndarray
    v_b: np.ndarray

    @property
    def longest_lag(self) -> int:
        """The latest hour after entry that any row schedules directly."""
        return max(NEAR_STEPS, int(self.sparse_lag.max(initial=0)) + 1)


def _point_masses(spec: LosDistribution, m: float, cap_steps: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A discrete stay's exits: an inflow spread over an hour, with a stay of u hours, leaves in
    hours floor(u) and floor(u) + 1 after, in proportion (None: a continuous stay)."""
    if isinstance(spec, Fixed):
        values = np.array([spec.mean_days])
    elif isinstance(spec, Empirical):
        values = np.asarray(spec.values_days, dtype=float)
    else:
        return None
    u = values * m / STEP_DAYS
    k = np.floor(u)
    frac = u - k
    lags = np.concatenate([k, k + 1]).astype(np.int64)
    shares = np.concatenate([1.0 - frac, frac]) / values.size
    lags = np.minimum(lags, cap_steps)  # beyond the horizon: never leaves within it
    keep = shares > 0
    return lags[keep], shares[keep]


def _pi(spec: LosDistribution, ms: np.ndarray, x_days: np.ndarray) -> np.ndarray:
    """``[v, i]``: ``E[(m_v L - x_i)+]`` for every multiplier ``m_v`` at once."""
    x = np.asarray(x_days, dtype=float)[None, :]
    m = np.asarray(ms, dtype=float)[:, None]
    return np.asarray(stop_loss_days(spec, x / m) * m)


def _present_at(spec: LosDistribution, ms: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``[v, i]``: ``W[k_i]``, the share of an hour's even inflow present k + 1 hours after its
    start, for every multiplier."""
    k = np.asarray(steps, dtype=float)
    pi = _pi(spec, ms, np.concatenate([k, k + 1.0]) * STEP_DAYS)
    return np.asarray((pi[:, : k.size] - pi[:, k.size :]) / STEP_DAYS)


# A slot with many multipliers (a ramp: one a day) has rows for a grid of multipliers this far
# apart (relative); each value is the blend of the two grid rows around it, with the weights that
# keep its mean stay exact (the shape of its stays is then off by O(step^2), about 2e-4).
MULTIPLIER_GRID_STEP = 0.02
EXACT_ROWS_UP_TO = 8


def _multiplier_grid(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid nodes for the distinct multipliers ``values`` (sorted) - the values themselves when
    few, else an even grid in log m from the least to the greatest - and, per value, the node
    below it and its weight on the node above."""
    if values.size <= EXACT_ROWS_UP_TO:
        return values, np.arange(values.size), np.zeros(values.size)
    lo, hi = math.log(values[0]), math.log(values[-1])
    n = max(math.ceil((hi - lo) / MULTIPLIER_GRID_STEP), 1)
    nodes = np.exp(np.linspace(lo, hi, n + 1))
    nodes[0], nodes[-1] = values[0], values[-1]
    k = np.clip(np.searchsorted(nodes, values, side="right") - 1, 0, n - 1)
    # linear in m between the nodes: the mean stay (m E[L]) is then exact
    return nodes, k, (values - nodes[k]) / (nodes[k + 1] - nodes[k])


def _near_and_far(spec: LosDistribution, ms: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per multiplier: the exit shares of the first 48 hours, the share left after them and,
    per 24-hour window m after that, the share of it leaving in the window."""
    w = np.arange(n_days + 2)
    present = _present_at(spec, ms, np.concatenate([np.arange(NEAR_STEPS), NEAR_STEPS - 1 + HOURS_PER_DAY * (w + 1)]))
    near_present = present[:, :NEAR_STEPS]
    before = np.concatenate([np.ones((ms.size, 1)), near_present[:, :-1]], axis=1)
    near = before - near_present
    starts = np.concatenate([near_present[:, -1:], present[:, NEAR_STEPS:]], axis=1)  # W at 47 + 24m
    left = starts[:, 0]
    safe = np.where(left > 0, left, 1.0)[:, None]
    shape = np.where(left[:, None] > 0, (starts[:, :-1] - starts[:, 1:]) / safe, 0.0)
    return near, left, shape


FAR_RANK = 6


def _low_rank(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``part[j, m]`` as ``u[j, r] v[r, m]``, rank FAR_RANK (the shares are smooth in both): the
    SVD of the small triangle of a QR, as exact as a full SVD and far cheaper."""
    from .kernel import thin_qr  # numba: imported when kernels are built

    q, tri = thin_qr(np.ascontiguousarray(part.T))  # part = tri.T q.T
    u, sv, wt = np.linalg.svd(tri.T)
    r = min(FAR_RANK, sv.size)
    u_r = np.zeros((HOURS_PER_DAY, FAR_RANK))
    v_r = np.zeros((FAR_RANK, part.shape[1]))
    u_r[:, :r] = u[:, :r] * sv[:r]
    v_r[:r] = wt[:r] @ q.T
    return np.ascontiguousarray(u_r), np.ascontiguousarray(v_r)


@functools.lru_cache(maxsize=64)
def _constant_far(spec_json: str, m: float, n_days: int) -> tuple[np.ndarray, ...]:
    """A constant slot's windows: exact parts by entry hour and their low-rank factors (cached:
    the cells of a sweep share most of their stays)."""
    spec = _SPEC.validate_json(spec_json)
    a, b = _parts(spec, m, n_days)
    ua, va = _low_rank(a)
    ub, vb = _low_rank(b)
    for arr in (a, b, ua, va, ub, vb):
        arr.flags.writeable = False
    return a, b, ua, va, ub, vb


def _parts(spec: LosDistribution, m: float, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """``[j, m]``: shares of an inflow in hour j leaving in window m before / after the midnight
    the window straddles (after: hours 0..j-1 of the next day)."""
    w = np.arange(n_days + 2)[None, :]
    j = np.arange(HOURS_PER_DAY)[:, None]
    first = NEAR_STEPS - 1 + HOURS_PER_DAY * w  # W at the window's start
    cut = first + HOURS_PER_DAY - j  # ... at the midnight inside it
    last = first + HOURS_PER_DAY
    steps = np.unique(np.concatenate([first.ravel(), cut.ravel(), last.ravel()]))
    present = _present_at(spec, np.array([m]), steps)[0]

    def at(k: np.ndarray) -> np.ndarray:
        return np.asarray(present[np.searchsorted(steps, k)])

    return np.ascontiguousarray(at(first) - at(cut)), np.ascontiguousarray(at(cut) - at(last))


def build_kernels(slots: list[Slot], n_days: int) -> KernelBank:
    """The kernel bank of ``slots`` over ``n_days``: one row per slot and distinct multiplier,
    each slot's rows computed at once."""
    row_of = np.empty((len(slots), n_days), dtype=np.int64)
    row_up = np.empty((len(slots), n_days), dtype=np.int64)
    row_w = np.empty((len(slots), n_days))
    near: list[np.ndarray] = []
    shape: list[np.ndarray] = []
    present_daily: list[np.ndarray] = []
    rest: list[np.ndarray] = []
    means: list[np.ndarray] = []
    exact_of = np.full(len(slots), -1, dtype=np.int64)
    part_a: list[np.ndarray] = []
    part_b: list[np.ndarray] = []
    ranked_a: list[tuple[np.ndarray, np.ndarray]] = []
    ranked_b: list[tuple[np.ndarray, np.ndarray]] = []
    sparse: list[tuple[np.ndarray, np.ndarray]] = []
    cap = (n_days + 1) * HOURS_PER_DAY
    for i, slot in enumerate(slots):
        values, inverse = np.unique(slot.multiplier_by_day, return_inverse=True)
        first = sum(len(r) for r in means)
        discrete = _point_masses(slot.spec, 1.0, cap) is not None
        if discrete:
            near.append(np.zeros((values.size, NEAR_STEPS)))
            rest.append(np.zeros(values.size))
            shape.append(np.zeros((values.size, n_days + 2)))
            sparse += [_point_masses(slot.spec, m, cap) or (np.zeros(0, dtype=np.int64), np.zeros(0)) for m in values]
            nodes, k, w = values, np.arange(values.size), np.zeros(values.size)
        else:
            # A ramp's rows are a grid of multipliers; each day reads its value's two grid rows
            # with the weight that keeps its mean stay exact (the shares are linear in the rows).
            nodes, k, w = _multiplier_grid(values)
            nr, left, sh = _near_and_far(slot.spec, nodes, n_days)
            near.append(nr)
            rest.append(left)
            shape.append(sh)
            sparse += [(np.zeros(0, dtype=np.int64), np.zeros(0))] * nodes.size
        row_of[i] = first + k[inverse]
        row_up[i] = first + np.minimum(k[inverse] + 1, nodes.size - 1)
        row_w[i] = w[inverse]
        daily = _pi(slot.spec, nodes, np.arange(n_days + 2, dtype=float))
        present_daily.append(daily[:, :-1] - daily[:, 1:])
        means.append(daily[:, 0])
        if values.size == 1 and not slot.gated and not discrete:
            exact_of[i] = len(part_a)
            a, b, ua, va, ub, vb = _constant_far(_SPEC.dump_json(slot.spec).decode(), float(values[0]), n_days)
            part_a.append(a)
            part_b.append(b)
            ranked_a.append((ua, va))
            ranked_b.append((ub, vb))
    empty = np.zeros((0, HOURS_PER_DAY, n_days + 2))

    def stacked(parts: list[tuple[np.ndarray, np.ndarray]], i: int, shape: tuple[int, ...]) -> np.ndarray:
        return np.ascontiguousarray([p[i] for p in parts]) if parts else np.zeros((0, *shape))

    width = max([lags.size for lags, _ in sparse], default=0)
    sparse_lag = np.zeros((len(sparse), width), dtype=np.int64)
    sparse_share = np.zeros((len(sparse), width))
    for r, (lags, shares) in enumerate(sparse):
        sparse_lag[r, : lags.size] = lags
        sparse_share[r, : lags.size] = shares
    return KernelBank(
        near=np.ascontiguousarray(np.concatenate(near)),
        rest=np.concatenate(rest),
        far_shape=np.ascontiguousarray(np.concatenate(shape)),
        part_a=np.ascontiguousarray(part_a) if part_a else empty,
        part_b=np.ascontiguousarray(part_b) if part_b else empty,
        exact_of=exact_of,
        row_of=row_of,
        row_up=row_up,
        row_w=row_w,
        mean_days=np.concatenate(means),
        present_daily=np.ascontiguousarray(np.concatenate(present_daily)),
        sparse_n=np.array([lags.size for lags, _ in sparse], dtype=np.int64),
        sparse_lag=sparse_lag,
        sparse_share=sparse_share,
        u_a=stacked(ranked_a, 0, (HOURS_PER_DAY, FAR_RANK)),
        v_a=stacked(ranked_a, 1, (FAR_RANK, n_days + 2)),
        u_b=stacked(ranked_b, 0, (HOURS_PER_DAY, FAR_RANK)),
        v_b=stacked(ranked_b, 1, (FAR_RANK, n_days + 2)),
    )
