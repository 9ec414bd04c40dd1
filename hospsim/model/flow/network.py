"""The stocks and delays of a config, as arrays for the flow kernel.

A *stage* is a stay with a length-of-stay distribution: an acute stay of a patient group (until
medically fit), a community stay, or an assessment (spent in the place the patient holds). Its
exits go on by *routes* (home, or on to a service). A stage whose destinations' mix changes over
time is split into one stage per destination, its inflow weighted by the day's share
(``stage_weight``), so each patient keeps the route of the day it entered; a constant mix is one
stage with fixed route shares. The *holder* of a stage is where its patients are: an acute bed
(0) or a place of service ``s`` (``1 + s``).

Kernels (:class:`KernelBank`) are the exact exit shares of each distinction (distribution x
multiplier) present in the plan: hour by hour over the entry day and the next, then per later day
- exactly per entry hour when the multiplier is constant, else with the later days' shape of a
cohort spread evenly over its entry day (the share still present after the near window is exact
either way, so nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...config import Config
from ...config.distributions import LosDistribution
from ..engine import assessment_flags
from ..plan import Levers
from .los import HOURS_PER_DAY, NEAR_STEPS, exit_shares, mean_stay_days, present_after_steps, stop_loss_days

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
        self, kind: int, slot: int, holder: int, source: int, dests: tuple[int, ...], cum: list, owner: str, em: bool
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

    ``near[row, j, k]``: share of an inflow in hour ``j`` of its day leaving in the k-th hour
    after (k <= 47 - j: its own day and the next). ``rest[row, j]``: the share still there at the
    end of the next day. ``far_shape[row, n]``: the share of that rest leaving on the n-th day
    after the entry day (n >= 2; sums to 1 over all later days). ``far_exact[c, n, j]``: for a
    constant slot ``c = exact_of[slot]``, the share of an inflow in hour ``j`` leaving on day n.
    ``row_of[slot, day]``: the row in force on each day. ``mean_days[row]``: the mean stay.
    """

    near: np.ndarray
    rest: np.ndarray
    far_shape: np.ndarray
    far_exact: np.ndarray
    exact_of: np.ndarray
    row_of: np.ndarray
    mean_days: np.ndarray
    present_daily: np.ndarray  # [row, n]: share of a day's even inflow present at the end of day n after


def _near_rows(spec: LosDistribution, m: float) -> tuple[np.ndarray, np.ndarray]:
    present = present_after_steps(spec, m, NEAR_STEPS)
    q = exit_shares(present)
    near = np.zeros((HOURS_PER_DAY, NEAR_STEPS))
    rest = np.empty(HOURS_PER_DAY)
    for j in range(HOURS_PER_DAY):
        n = NEAR_STEPS - j
        near[j, :n] = q[:n]
        rest[j] = present[n - 1]
    return near, rest


def _daily_present(spec: LosDistribution, m: float, n_days: int) -> np.ndarray:
    """Share of a cohort spread evenly over one day still present at the end of each day after
    (index 0: the end of its own day)."""
    pi = stop_loss_days(spec, np.arange(n_days + 2, dtype=float), m)
    return np.asarray(pi[:-1] - pi[1:])


def _far_shape(present_daily: np.ndarray) -> np.ndarray:
    """Per later day n (>= 2): share of what is left at the end of day 1 that leaves on day n."""
    shape = np.zeros(present_daily.size)
    left = present_daily[1]
    if left > 0:
        shape[2:] = (present_daily[1:-1] - present_daily[2:]) / left
    return shape


def _far_exact(spec: LosDistribution, m: float, n_days: int) -> np.ndarray:
    """``[j, n]``: share of an inflow in hour j leaving on the n-th day after its entry day."""
    steps = (n_days + 2) * HOURS_PER_DAY
    present = np.concatenate([[1.0], present_after_steps(spec, m, steps)])  # present[k + 1] = W[k]
    n = np.arange(n_days + 1)[:, None]
    j = np.arange(HOURS_PER_DAY)[None, :]
    start = np.clip(HOURS_PER_DAY * n - j, 0, steps)  # W[24n - j - 1] at index 24n - j
    end = np.clip(HOURS_PER_DAY * n + HOURS_PER_DAY - j, 0, steps)
    far = present[start] - present[end]
    far[:2] = 0.0
    return np.ascontiguousarray(far.T)  # [j, n]: the kernel runs along n


def build_kernels(slots: list[Slot], n_days: int) -> KernelBank:
    """The kernel bank of ``slots`` over ``n_days``."""
    rows: dict[tuple[int, float], int] = {}
    row_of = np.empty((len(slots), n_days), dtype=np.int64)
    near, rest, shape, present_daily, means = [], [], [], [], []
    exact_of = np.full(len(slots), -1, dtype=np.int64)
    exact = []
    for i, slot in enumerate(slots):
        values, inverse = np.unique(slot.multiplier_by_day, return_inverse=True)
        for v_index, m in enumerate(values.tolist()):
            key = (i, m)
            rows[key] = len(near)
            nr, rs = _near_rows(slot.spec, m)
            pd_ = _daily_present(slot.spec, m, n_days)
            near.append(nr)
            rest.append(rs)
            present_daily.append(pd_)
            shape.append(_far_shape(pd_))
            means.append(mean_stay_days(slot.spec, m))
        row_of[i] = np.array([rows[(i, m)] for m in values.tolist()], dtype=np.int64)[inverse]
        if values.size == 1 and not slot.gated:
            exact_of[i] = len(exact)
            exact.append(_far_exact(slot.spec, float(values[0]), n_days))
    return KernelBank(
        near=np.ascontiguousarray(near),
        rest=np.ascontiguousarray(rest),
        far_shape=np.ascontiguousarray(shape),
        far_exact=np.ascontiguousarray(exact) if exact else np.zeros((0, HOURS_PER_DAY, n_days + 1)),
        exact_of=exact_of,
        row_of=row_of,
        mean_days=np.asarray(means),
        present_daily=np.ascontiguousarray(present_daily),
    )
