"""Starting from a census: the patients already in the system at day 0, put in their places.

Each census patient is a candidate of its own (the last ``n_census``, see
:class:`~hospsim.model.cohort.CensusBlock`). At day 0, before the midnight that serves the day's
queues, the engine places them:

* in an acute bed, not yet fit: admitted ``elapsed`` days ago; its whole stay is drawn from its
  group's LOS distribution *given that it exceeds the time already spent* (the tail beyond it,
  not a uniform guess), scaled by the plan's LOS multiplier of day 0; medically fit when that stay
  ends, then on by its group's pathway mix of day 0, as any patient;
* in an acute bed, already fit and waiting for service D: a delayed transfer since day 0; its
  assessment for D is drawn afresh from its fit time - if that would have ended already it is
  ready, and joins D's queue in order of the time it became ready; otherwise it becomes ready
  when it ends;
* in a community service: its stay drawn from the service's LOS given the time already spent;
  then home or onward by the service's routes, as any patient (its visit has origin FROM_CENSUS);
  one that has finished its stay and waits for service D (blocked) is treated as a fit acute
  patient is: D's assessment drawn afresh from the end of its stay, then ready;
* waiting for a bed (ED boarding): arrived ``elapsed`` days ago, at the head of the queue in order
  of arrival, with its group's LOS and pathway; its wait limit counts from its arrival.

Every number comes from the census's own streams (``census_stay``, ``census_pathway``,
``census_service_los``, ``census_assessment``), so a census never shifts the draws of the patients
who arrive later, and the same census patient gets the same draws under every plan. A census over
capacity evicts nobody: admissions wait until occupancy falls below capacity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..config import Config
from ..config.distributions import LosDistribution, ppf, tail_ppf
from .cohort import BLOCKED, BOARDING, FIT_WAITING, IN_SERVICE, IN_STAY, CensusBlock
from .records import ADMITTED, FROM_ACUTE, FROM_CENSUS

if TYPE_CHECKING:
    from .engine import Engine


def place_census(engine: Engine, cfg: Config, census: CensusBlock, first: int) -> None:
    """Put the census's patients (candidates ``first ..``) where they are at day 0."""
    pid = first + np.arange(census.kind.size)
    _acute_in_stay(engine, cfg, census, pid)
    ready = _acute_fit(engine, census, pid)
    _in_service(engine, cfg, census, pid)
    ready += _blocked(engine, census, pid)
    # Waiting for a place already: one queue per service across senders, first ready first served.
    for _, p in sorted(ready):
        engine.pools[engine.log.v_service[engine.visit[p]]].waiting.append(p)
    _boarding(engine, cfg, census, pid)


def _assessed(engine: Engine, p: int, s: int, depth: int, since: float) -> tuple[float, int] | None:
    """Service ``s``'s assessment of patient ``p`` (its ``depth``-th visit), begun at ``since``
    (< 0): schedules its end, or - if it would have ended already - records the patient ready
    then and returns (ready time, patient) for the queue."""
    if not engine.has_assessment[s]:
        days = 0.0
    else:
        drawn = engine.assessment[s][p] if depth == 0 else engine.onward.assessment_days(depth, s)[p]
        days = float(drawn) * engine.levers.assessment_multiplier[s][0]
    ready = since + days
    if ready > 0:
        engine.clock.at(ready, engine._on_ready, p)
        return None
    engine.log.v_ready[engine.visit[p]] = ready
    return ready, p


def _before_day0(elapsed: float) -> float:
    """The time ``elapsed`` days before day 0, strictly before it (a census patient admitted
    "just now" was still admitted before the run: -0.0 would read as an admission on day 0)."""
    return min(-elapsed, float(np.nextafter(0.0, -1.0)))


def _los_spec(cfg: Config, group: int) -> LosDistribution:
    """The LOS distribution of group index ``group`` (one past the groups: electives)."""
    groups = list(cfg.groups.values())
    if group < len(groups):
        return groups[group].los
    assert cfg.demand.elective is not None  # validated: an elective census row needs electives
    return cfg.demand.elective.los


def _acute_in_stay(engine: Engine, cfg: Config, census: CensusBlock, pid: np.ndarray) -> None:
    sel = np.flatnonzero(census.kind == IN_STAY)
    group = np.asarray(engine.group)[pid[sel]]
    for g in np.unique(group).tolist():
        rows = sel[group == g]
        multiplier = engine.levers.los_multiplier[g][0]
        elapsed = census.elapsed_days[rows]
        base = tail_ppf(_los_spec(cfg, g), elapsed / multiplier, census.u_stay[rows])
        for p, e, b in zip(pid[rows].tolist(), elapsed.tolist(), base.tolist(), strict=True):
            engine.base_los[p] = b
            engine._resolve(p)  # LOS x the day's multiplier, pathway by the day's mix
            log = engine.log
            log.outcome[p] = ADMITTED
            log.admit[p] = _before_day0(e)
            engine.beds.change(1, 0.0)
            engine.clock.at(max(0.0, log.acute_los[p] - e), engine._on_fit, p)


def _acute_fit(engine: Engine, census: CensusBlock, pid: np.ndarray) -> list[tuple[float, int]]:
    log, ready_now = engine.log, []
    for k in np.flatnonzero(census.kind == FIT_WAITING).tolist():
        p, s = int(pid[k]), int(census.service[k])
        e, f = float(census.elapsed_days[k]), float(census.fit_elapsed_days[k])
        log.outcome[p] = ADMITTED
        log.admit[p], log.fit[p], log.acute_los[p], log.service[p] = _before_day0(e), -f, e - f, s
        engine.beds.change(1, 0.0)
        engine.delayed.change(1, 0.0)
        engine.visit[p] = log.refer(p, s, FROM_ACUTE, 0, -f)
        ready = _assessed(engine, p, s, 0, -f)
        if ready is not None:
            log.ready[p] = ready[0]
            ready_now.append(ready)
    return ready_now


def _blocked(engine: Engine, census: CensusBlock, pid: np.ndarray) -> list[tuple[float, int]]:
    """Patients who finished their stay in a service and hold its place, waiting for the next."""
    log, ready_now = engine.log, []
    for k in np.flatnonzero(census.kind == BLOCKED).tolist():
        p, s, d = int(pid[k]), int(census.service[k]), int(census.waiting_for[k])
        e, f = float(census.elapsed_days[k]), float(census.fit_elapsed_days[k])
        _occupy(engine, p, s, e)
        log.v_stay_end[engine.visit[p]] = -f
        engine.visit[p] = log.refer(p, d, s, 1, -f)
        ready = _assessed(engine, p, d, 1, -f)
        if ready is not None:
            ready_now.append(ready)
    return ready_now


def _occupy(engine: Engine, p: int, s: int, elapsed: float) -> int:
    """Patient ``p`` holds a place in service ``s`` since ``-elapsed``: its visit's index."""
    log = engine.log
    log.outcome[p] = ADMITTED
    log.leave[p] = -elapsed  # left an acute bed (or came from elsewhere) before the census
    v = engine.visit[p] = log.refer(p, s, FROM_CENSUS, 0, -elapsed)
    log.v_ready[v] = log.v_start[v] = -elapsed
    engine.pools[s].occupied += 1
    engine.holding[p] = v
    log.used_service[p] = s
    log.s_start[p] = -elapsed
    return v


def _in_service(engine: Engine, cfg: Config, census: CensusBlock, pid: np.ndarray) -> None:
    specs = [s.los for s in cfg.services.values()]
    for k in np.flatnonzero(census.kind == IN_SERVICE).tolist():
        p, s, e = int(pid[k]), int(census.service[k]), float(census.elapsed_days[k])
        stay = float(tail_ppf(specs[s], np.array([e]), census.u_stay[k : k + 1])[0])
        _occupy(engine, p, s, e)
        engine.clock.at(max(0.0, stay - e), engine._on_stay_end, p)


def _boarding(engine: Engine, cfg: Config, census: CensusBlock, pid: np.ndarray) -> None:
    sel = np.flatnonzero(census.kind == BOARDING)
    if not sel.size:
        return
    group = np.asarray(engine.group)[pid[sel]]
    base = np.empty(sel.size)
    for g in np.unique(group).tolist():
        base[group == g] = ppf(_los_spec(cfg, g), census.u_stay[sel[group == g]])
    max_wait = engine.boarding.max_wait_days
    # Oldest first: the longest wait is at the head of the queue.
    for i in np.argsort(-census.elapsed_days[sel], kind="stable").tolist():
        p = int(pid[sel[i]])
        engine.base_los[p] = float(base[i])
        engine._resolve(p)
        engine.boarding.join(p)
        if max_wait is not None:
            engine.clock.at(max(0.0, engine.arrival[p] + max_wait), engine._on_wait_limit, p)
