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

from dataclasses import dataclass

import numpy as np

from ...config import Config
from ...config.distributions import Empirical, Fixed, LosDistribution
from ..engine import assessment_flags
from ..plan import Levers
from .los import HOURS_PER_DAY, NEAR_STEPS, STEP_DAYS, exit_shares, mean_stay_days, present_after_steps, stop_loss_days

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
    row in force on each day; ``mean_days[row]``: the mean stay; ``present_daily[row, n]``: the
    share of a day's even inflow still there at the end of the n-th day after.
    """

    near: np.ndarray
    rest: np.ndarray
    far_shape: np.ndarray
    part_a: np.ndarray
    part_b: np.ndarray
    exact_of: np.ndarray
    row_of: np.ndarray
    mean_days: np.ndarray
    present_daily: np.ndarray
    # A fixed or empirical stay (point masses) is scheduled exactly instead: an hour's inflow
    # leaves ``sparse_share[row, i]`` of itself ``sparse_lag[row, i]`` hours on (i < sparse_n[row]).
    sparse_n: np.ndarray
    sparse_lag: np.ndarray
    sparse_share: np.ndarray

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


def _present_at(spec: LosDistribution, m: float, steps: np.ndarray) -> np.ndarray:
    """``W[k]`` at the given k: share of an hour's even inflow present k + 1 hours after its start."""
    x = np.asarray(steps, dtype=float)
    pi = stop_loss_days(spec, np.concatenate([x, x + 1.0]) * STEP_DAYS, m)
    return np.asarray((pi[: x.size] - pi[x.size :]) / STEP_DAYS)


def _windows(n_days: int) -> np.ndarray:
    return np.arange(n_days + 2)


def _far_shape(spec: LosDistribution, m: float, n_days: int) -> tuple[float, np.ndarray]:
    """The share left after 48 hours and, per 24-hour window m after that, the share of it
    leaving in the window."""
    w = _windows(n_days)
    start = _present_at(spec, m, NEAR_STEPS - 1 + HOURS_PER_DAY * w)
    end = _present_at(spec, m, NEAR_STEPS - 1 + HOURS_PER_DAY * (w + 1))
    left = float(start[0])
    return left, (start - end) / left if left > 0 else np.zeros(w.size)


def _parts(spec: LosDistribution, m: float, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """``[j, m]``: shares of an inflow in hour j leaving in window m before / after the midnight
    the window straddles (after: hours 0..j-1 of the next day)."""
    w = _windows(n_days)[None, :]
    j = np.arange(HOURS_PER_DAY)[:, None]
    first = NEAR_STEPS - 1 + HOURS_PER_DAY * w  # W at the window's start
    cut = first + HOURS_PER_DAY - j  # ... at the midnight inside it
    last = first + HOURS_PER_DAY
    steps = np.unique(np.concatenate([first.ravel(), cut.ravel(), last.ravel()]))
    present = _present_at(spec, m, steps)

    def at(k: np.ndarray) -> np.ndarray:
        return np.asarray(present[np.searchsorted(steps, k)])

    return np.ascontiguousarray(at(first) - at(cut)), np.ascontiguousarray(at(cut) - at(last))


def build_kernels(slots: list[Slot], n_days: int) -> KernelBank:
    """The kernel bank of ``slots`` over ``n_days``."""
    row_of = np.empty((len(slots), n_days), dtype=np.int64)
    near: list[np.ndarray] = []
    shape: list[np.ndarray] = []
    present_daily: list[np.ndarray] = []
    rest: list[float] = []
    means: list[float] = []
    exact_of = np.full(len(slots), -1, dtype=np.int64)
    part_a: list[np.ndarray] = []
    part_b: list[np.ndarray] = []
    sparse: list[tuple[np.ndarray, np.ndarray]] = []
    cap = (n_days + 1) * HOURS_PER_DAY
    for i, slot in enumerate(slots):
        values, inverse = np.unique(slot.multiplier_by_day, return_inverse=True)
        first_row = len(near)
        for m in values.tolist():
            points = _point_masses(slot.spec, m, cap)
            if points is None:
                near.append(exit_shares(present_after_steps(slot.spec, m, NEAR_STEPS)))
                left, sh = _far_shape(slot.spec, m, n_days)
                sparse.append((np.zeros(0, dtype=np.int64), np.zeros(0)))
            else:
                near.append(np.zeros(NEAR_STEPS))
                left, sh = 0.0, np.zeros(n_days + 2)
                sparse.append(points)
            rest.append(left)
            shape.append(sh)
            present_daily.append(_daily_present(slot.spec, m, n_days))
            means.append(mean_stay_days(slot.spec, m))
        row_of[i] = first_row + inverse
        if values.size == 1 and not slot.gated and _point_masses(slot.spec, 1.0, cap) is None:
            exact_of[i] = len(part_a)
            a, b = _parts(slot.spec, float(values[0]), n_days)
            part_a.append(a)
            part_b.append(b)
    empty = np.zeros((0, HOURS_PER_DAY, n_days + 2))
    width = max([lags.size for lags, _ in sparse], default=0)
    sparse_lag = np.zeros((len(sparse), width), dtype=np.int64)
    sparse_share = np.zeros((len(sparse), width))
    for r, (lags, shares) in enumerate(sparse):
        sparse_lag[r, : lags.size] = lags
        sparse_share[r, : lags.size] = shares
    return KernelBank(
        near=np.ascontiguousarray(near),
        rest=np.asarray(rest),
        far_shape=np.ascontiguousarray(shape),
        part_a=np.ascontiguousarray(part_a) if part_a else empty,
        part_b=np.ascontiguousarray(part_b) if part_b else empty,
        exact_of=exact_of,
        row_of=row_of,
        mean_days=np.asarray(means),
        present_daily=np.ascontiguousarray(present_daily),
        sparse_n=np.array([lags.size for lags, _ in sparse], dtype=np.int64),
        sparse_lag=sparse_lag,
        sparse_share=sparse_share,
    )


def _daily_present(spec: LosDistribution, m: float, n_days: int) -> np.ndarray:
    """Share of a cohort spread evenly over one day still present at the end of each day after
    (index 0: the end of its own day)."""
    pi = stop_loss_days(spec, np.arange(n_days + 2, dtype=float), m)
    return np.asarray(pi[:-1] - pi[1:])
