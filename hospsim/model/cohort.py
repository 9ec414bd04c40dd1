"""The patients of one replication.

:class:`Candidates` are drawn in bulk before the simulation starts, from named streams: the
emergencies, indexed by their place in a dominating arrival stream that does not depend on the
plan, then the elective referrals (the starting waiting list, then new referrals), which do not
depend on the plan either. Each has an arrival (or referral) time, a group, and one uniform
number per attribute (acceptance, LOS quantile, step-up suitability, pathway, community LOS
quantile); electives also a clinical priority and the time they become bookable. The plan in force on the arrival day (possibly changed by a gate
that opened) turns those numbers into attributes as the patient arrives. Scenarios compared under
the same replication seed therefore see the same patients (common random numbers), and no
attribute depends on the state of the system.

:class:`Cohort` is what the patients turned out to be: those who arrived, with their resolved
attributes, after the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

import numpy as np

from ..config import Config
from ..config.distributions import LosDistribution, ppf, ppf_grouped, ppf_rows
from ..config.schema import ELECTIVE_GROUP
from . import compiled
from .demand import emergency_arrivals, initial_list_times, referral_times
from .streams import Streams

NO_SERVICE = -1

# Which candidates may need a stay drawn, from their group and one of their uniforms (see
# build_candidates).
StayFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Candidates:
    """Possible emergency arrivals sorted by time, then elective referrals sorted by time;
    arrays aligned by candidate index."""

    time_days: np.ndarray  # float: arrival (emergency) or referral (elective; < 0 if on the list at day 0)
    day: np.ndarray  # int, day of arrival or referral (0 for the starting list)
    is_elective: np.ndarray  # bool
    n_emergencies: int  # emergencies are candidates 0 .. n_emergencies-1
    priority: np.ndarray  # int: elective clinical priority (0 most urgent); -1 for emergencies
    bookable_days: np.ndarray  # float: when an elective can first be booked; NaN for emergencies
    group: np.ndarray  # index into group_names; electives get len(group_names)
    u_accept: np.ndarray  # emergencies: thinning uniform (kept if < growth x multiplier / headroom)
    base_los_days: np.ndarray  # LOS before any plan multiplier
    u_step_up: np.ndarray
    step_up_los_days: np.ndarray
    u_pathway: np.ndarray
    service_los_days: np.ndarray  # shape (n_services, n): LOS if the patient went to service s
    assessment_days: np.ndarray  # shape (n_services, n): fit-to-ready time if referred to s
    group_names: tuple[str, ...]
    service_names: tuple[str, ...]
    priority_names: tuple[str, ...]  # elective clinical priorities, most urgent first
    # Where each candidate was in the full draw, and that draw's size and seed: a later community
    # visit's numbers (OnwardDraws) are drawn for the full draw, so a selection keeps them.
    source_index: np.ndarray | None = None
    n_drawn: int = 0
    replication_seed: int = 0
    # The census (patients already in the system at day 0) are the last ``n_census`` candidates.
    n_census: int = 0
    census: CensusBlock | None = None
    # Drawn for one run: community stays only for the candidates its plan may send there (the
    # others NaN; see build_candidates).
    stays_left_out: bool = False
    # The electives' orders (with_elective_order), carried through a selection: a draw shared by
    # a sweep's runs sorts its electives once, not once a run.
    elective_order: ElectiveOrder | None = None

    @property
    def n_electives(self) -> int:
        """Electives are candidates ``n_emergencies .. n_emergencies + n_electives - 1``."""
        return len(self) - self.n_emergencies - self.n_census

    def __len__(self) -> int:
        return int(self.time_days.size)

    def select(self, keep: np.ndarray) -> Candidates:
        """The candidates where ``keep`` is true (per-service rows keep their services)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        index = np.flatnonzero(keep)  # taking by index copies several times faster than a mask
        arrays: dict[str, Any] = {k: v.take(index, axis=-1) for k, v in values.items() if isinstance(v, np.ndarray)}
        order = self.elective_order
        if order is not None:
            order = order.kept(keep[self.n_emergencies : self.n_emergencies + self.n_electives])
        return replace(
            self, **arrays, n_emergencies=int(np.count_nonzero(keep[: self.n_emergencies])), elective_order=order
        )

    def electives_ordered(self) -> ElectiveOrder:
        """The electives' orders: carried, or made now."""
        if self.elective_order is not None:
            return self.elective_order
        electives = slice(self.n_emergencies, self.n_emergencies + self.n_electives)
        return ElectiveOrder.of(self.bookable_days[electives], self.priority[electives], self.time_days[electives])

    def with_elective_order(self) -> Candidates:
        """These candidates with their electives' orders made (carried by :meth:`select`)."""
        return replace(self, elective_order=self.electives_ordered())


@dataclass(frozen=True)
class ElectiveOrder:
    """Two orders of the electives (indices into the elective block): by when each can first be
    booked, and by the rank the waiting list books them in (priority, referral time, index).
    Both break ties by index, so the orders of a subset are these orders with the others left out."""

    by_bookable: np.ndarray
    by_rank: np.ndarray

    @classmethod
    def of(cls, bookable_days: np.ndarray, priority: np.ndarray, referral_days: np.ndarray) -> ElectiveOrder:
        """The orders of electives with these attributes."""
        n = priority.size
        # Referral times come sorted (the starting list oldest first, then the referrals): the
        # rank order is then a stable split by priority; otherwise a lexicographic sort.
        if n > 1 and not bool(np.all(referral_days[1:] >= referral_days[:-1])):
            by_rank = np.lexsort((np.arange(n), referral_days, priority))
        else:
            by_rank = np.argsort(priority, kind="stable")
        return cls(np.asarray(stable_order(bookable_days), dtype=np.int64), by_rank.astype(np.int64, copy=False))

    def kept(self, keep: np.ndarray) -> ElectiveOrder:
        """The orders of the electives where ``keep`` is true, indexed among them."""
        if keep.all():
            return self
        new_index = np.cumsum(keep, dtype=np.int64) - 1
        return ElectiveOrder(
            new_index[self.by_bookable[keep[self.by_bookable]]], new_index[self.by_rank[keep[self.by_rank]]]
        )

    def ranks(self) -> np.ndarray:
        """Each elective's rank in the booking order."""
        rank = np.empty(self.by_rank.size, dtype=np.int64)
        rank[self.by_rank] = np.arange(self.by_rank.size)
        return rank


# Where a census patient is at day 0 (CensusBlock.kind).
IN_STAY, FIT_WAITING, IN_SERVICE, BOARDING, BLOCKED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class CensusBlock:
    """What the census says of each of its patients (the last ``n_census`` candidates), in the
    order acute (in their stay, then fit), services, boarding, each kept in census order."""

    kind: np.ndarray  # IN_STAY, FIT_WAITING, IN_SERVICE, BOARDING or BLOCKED
    elapsed_days: np.ndarray  # since admission, service start or arrival
    fit_elapsed_days: np.ndarray  # since medically fit, or since its service stay ended (NaN: neither)
    service: np.ndarray  # int: the service a patient is in (IN_SERVICE, BLOCKED) or waits for (FIT_WAITING)
    waiting_for: np.ndarray  # int: BLOCKED: the service it waits for (-1 otherwise)
    u_stay: np.ndarray  # the uniform of its residual stay (acute or service), from its own stream


@dataclass(frozen=True)
class Cohort:
    """The patients who arrived, with the attributes the plan in force gave them."""

    arrival_days: np.ndarray  # float: arrival (emergencies, sorted) or referral (electives, sorted)
    is_elective: np.ndarray  # bool
    priority: np.ndarray  # int: elective clinical priority (0 most urgent); -1 for emergencies
    group: np.ndarray  # index into group_names; electives get len(group_names)
    step_up_suitable: np.ndarray  # bool: may be diverted to step-up if a place is free
    step_up_los_days: np.ndarray  # its stay there if diverted (NaN: not suitable)
    acute_los_days: np.ndarray  # time from admission to medically fit for discharge
    service: np.ndarray  # discharge service index, or NO_SERVICE for home
    service_los_days: np.ndarray  # LOS in that service (0 for home)
    group_names: tuple[str, ...]
    service_names: tuple[str, ...]
    priority_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.arrival_days.size)


@dataclass(frozen=True)
class _Arrivals:
    """One source of candidates (emergencies or electives), in its own order, before merging."""

    time_days: np.ndarray
    priority: np.ndarray
    bookable_days: np.ndarray
    group: np.ndarray
    u_accept: np.ndarray
    u_los: np.ndarray  # the acute LOS quantile (census: unused, its stay is drawn at day 0)
    u_step_up: np.ndarray
    u_step_up_los: np.ndarray
    u_pathway: np.ndarray
    u_service_los: np.ndarray

    def take(self, index: np.ndarray) -> _Arrivals:
        """The arrivals at ``index``, in its order."""
        return _Arrivals(**{f.name: getattr(self, f.name).take(index) for f in fields(self)})


# Fields that _emergencies fills with one value for every emergency.
_SAME_FOR_EVERY_EMERGENCY = frozenset({"priority", "bookable_days"})


def _emergencies(cfg: Config, streams: Streams) -> tuple[_Arrivals, np.ndarray]:
    """The emergency candidates in the order drawn (day by day), and how many on each day."""
    em = emergency_arrivals(cfg.demand.emergency, cfg.start_date, cfg.horizon_days, streams["emergency_arrivals"])
    k = em.time_days.size
    shares = _cumulative([g.share for g in cfg.groups.values()])
    return _Arrivals(
        time_days=em.time_days,
        priority=np.full(k, -1, dtype=np.int64),  # _SAME_FOR_EVERY_EMERGENCY
        bookable_days=np.full(k, np.nan),
        group=_bin_of(shares, streams["group"].random(k)),
        u_accept=em.u_accept,
        u_los=streams["acute_los"].random(k),
        u_step_up=streams["step_up"].random(k),
        u_step_up_los=streams["step_up_los"].random(k),
        u_pathway=streams["pathway"].random(k),
        u_service_los=streams["service_los"].random(k),
    ), em.per_day


def _electives(cfg: Config, streams: Streams, group_index: int, group_dtype: np.dtype) -> _Arrivals:
    """The starting waiting list, then the referrals, each with its own draws: none depends on
    the plan (slots only decide when they are admitted)."""
    el = cfg.demand.elective
    if el is None:
        return _no_arrivals(group_dtype)
    starting, listed_priority = _starting_list(cfg)
    time = np.concatenate([starting, referral_times(el, cfg.horizon_days, streams["elective_referrals"])])
    n = time.size
    priority = _bin_of(_cumulative(list(el.priorities.values())), streams["elective_priority"].random(n))
    if listed_priority is not None:
        priority[: starting.size] = listed_priority  # the census says each one's priority
    wait_to_book = ppf(el.bookable_after, streams["elective_bookable"].random(n)) if el.bookable_after else np.zeros(n)
    # Kept when below the plan's referral multiplier on the referral day; the starting list always.
    u_accept = np.concatenate([np.full(starting.size, -1.0), streams["elective_accept"].random(n - starting.size)])
    return _Arrivals(
        time_days=time,
        priority=priority.astype(np.int64),
        bookable_days=time + wait_to_book,
        group=np.full(n, group_index, dtype=group_dtype),
        u_accept=u_accept,
        u_los=streams["elective_los"].random(n),
        u_step_up=np.ones(n),  # never suitable for step-up
        u_step_up_los=np.zeros(n),  # unused
        u_pathway=streams["elective_pathway"].random(n),
        u_service_los=streams["elective_service_los"].random(n),
    )


def _starting_list(cfg: Config) -> tuple[np.ndarray, np.ndarray | None]:
    """Referral times (< 0, oldest first) of the electives on the list at day 0, and their
    priorities if the census gives them (else drawn)."""
    el = cfg.demand.elective
    listed = cfg.initial_state.waiting_list if cfg.initial_state is not None else []
    if el is None or not listed:
        return (initial_list_times(el) if el is not None else np.empty(0)), None
    order = np.argsort([-w.elapsed_days for w in listed], kind="stable")
    times = np.minimum(-np.array([listed[i].elapsed_days for i in order]), np.nextafter(0.0, -1.0))
    names = list(el.priorities)
    return times, np.array([names.index(listed[i].priority) for i in order], dtype=np.int64)


def build_candidates(
    cfg: Config,
    streams: Streams,
    accept_below: np.ndarray | None = None,
    service_stays_for: StayFilter | None = None,
    step_up_stays_for: StayFilter | None = None,
    referrals_kept_below: np.ndarray | None = None,
) -> Candidates:
    """Draw every possible patient of one replication: emergencies, then elective referrals,
    then the census (patients already in the system at day 0).

    With ``accept_below`` (per day: the most an emergency candidate's ``u_accept`` may be for any
    opening of the plan's gates to accept it; :func:`hospsim.model.engine.engine_candidates`), the
    emergencies that no plan can accept are left out as soon as they are drawn, before they are
    sorted and given stays: the same candidates, bit for bit, as selecting them from the whole
    draw, made with a third less work. A draw shared by several plans is made without it.
    ``referrals_kept_below`` does the same for the elective referrals (per day: the most a
    referral's ``u_accept`` may be for the plan to keep it).

    With ``service_stays_for`` (group, pathway uniform -> may the candidate go to a community
    service under its plan; :func:`hospsim.model.plan.may_use_a_service`) the stays and
    assessments of the services are drawn only for those candidates (and a census), and with
    ``step_up_stays_for`` (group, step-up uniform) the step-up stays only for those: the others'
    are NaN, never read (:func:`hospsim.model.engine.replication_from` checks it). Each drawn
    number is the one the whole draw has: quantiles are taken number by number."""
    em, per_day = _emergencies(cfg, streams)  # in the order drawn: cat() puts them in time order
    order = _time_order(em.time_days, per_day)
    n_em_drawn = order.size
    em_index = None  # each kept emergency's place in the time order of the whole draw
    if accept_below is not None:
        keep = em.u_accept < accept_below[_day_of(em.time_days)]
        em_index = np.flatnonzero(keep[order])
        order = order[em_index]
    el = _electives(cfg, streams, len(cfg.groups), em.group.dtype)  # already in time order
    n_el_drawn = el.time_days.size
    el_index = None  # each kept elective's place among those drawn
    if referrals_kept_below is not None:
        el_index = np.flatnonzero(el.u_accept < referrals_kept_below[_day_of(el.time_days)])  # the starting list: -1
        el = el.take(el_index)
    ce, census = _census(cfg, streams, em.group.dtype)
    sources = (em, el, ce)

    def cat(name: str) -> np.ndarray:
        arrays = [getattr(a, name) for a in sources]
        if name in _SAME_FOR_EVERY_EMERGENCY:
            return np.concatenate([arrays[0][: order.size], *arrays[1:]])  # time order changes nothing
        return _gather_concat(order, *arrays)

    time = cat("time_days")
    n_em, n_el = order.size, el.time_days.size
    group = cat("group")
    u_los = cat("u_los")
    base_los = np.full(time.size, np.nan)  # the census's stays are drawn at day 0
    base_los[:n_em] = ppf_grouped([g.los for g in cfg.groups.values()], group[:n_em], u_los[:n_em])
    if cfg.demand.elective is not None:
        base_los[n_em : n_em + n_el] = ppf(cfg.demand.elective.los, u_los[n_em : n_em + n_el])
    u_step_up, u_pathway = cat("u_step_up"), cat("u_pathway")
    step_up_los, service_los, assessment = _community_stays(
        cfg,
        streams,
        sources,
        order,
        (em_index, el_index, n_el_drawn),
        group,
        u_pathway,
        u_step_up,
        service_stays_for,
        step_up_stays_for,
    )
    # Places in the whole draw: emergencies in time order, then electives, then the census.
    source_index = np.arange(n_em_drawn - n_em, n_em_drawn - n_em + time.size)
    if em_index is not None:
        source_index[:n_em] = em_index
    if el_index is not None:
        source_index[n_em : n_em + n_el] = n_em_drawn + el_index
        source_index[n_em + n_el :] += n_el_drawn - n_el
    return Candidates(
        time_days=time,
        day=_day_of(time),
        is_elective=np.concatenate(
            [np.zeros(n_em, dtype=bool), np.ones(n_el, dtype=bool), ce.group == len(cfg.groups)]
        ),
        n_emergencies=int(n_em),
        priority=cat("priority"),
        bookable_days=cat("bookable_days"),
        group=group,
        u_accept=cat("u_accept"),
        base_los_days=base_los,
        u_step_up=u_step_up,
        step_up_los_days=step_up_los,
        u_pathway=u_pathway,
        service_los_days=service_los,
        assessment_days=assessment,
        group_names=tuple(cfg.groups),
        service_names=tuple(cfg.services),
        priority_names=tuple(cfg.demand.elective.priorities) if cfg.demand.elective is not None else (),
        source_index=source_index,
        n_drawn=int(n_em_drawn + n_el_drawn + ce.time_days.size),
        replication_seed=streams.replication_seed,
        n_census=int(ce.time_days.size),
        census=census,
        stays_left_out=service_stays_for is not None or step_up_stays_for is not None,
    )


def _community_stays(
    cfg: Config,
    streams: Streams,
    sources: tuple[_Arrivals, ...],
    order: np.ndarray,
    kept: tuple[np.ndarray | None, np.ndarray | None, int],
    group: np.ndarray,
    u_pathway: np.ndarray,
    u_step_up: np.ndarray,
    service_stays_for: StayFilter | None,
    step_up_stays_for: StayFilter | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each candidate's step-up stay, and its stay and assessment in each service (rows), for
    the candidates the filters keep (every one without a filter; NaN for the others, zeros in
    the rows of a service without an assessment). Uniforms are gathered for those only.
    ``kept``: the emergencies and electives kept among those drawn (None: all), and how many
    electives were drawn."""
    em = sources[0]
    n_em, n = order.size, group.size
    step_up_los = np.zeros(n)
    if cfg.step_up_service is not None:
        at = None if step_up_stays_for is None else np.flatnonzero(step_up_stays_for(group[:n_em], u_step_up[:n_em]))
        step_up_los[:n_em] = _rows_at(
            [cfg.services[cfg.step_up_service].los], n_em, at, lambda i: _gather_at(order, [em.u_step_up_los], i)
        )[0]
    at = None
    if service_stays_for is not None:
        needs = service_stays_for(group, u_pathway)
        needs[n_em + sources[1].time_days.size :] = True  # a census: what its record says, not its pathway
        at = np.flatnonzero(needs)
    services = cfg.services.values()
    u_los = [a.u_service_los for a in sources]
    service_los = _rows_at([s.los for s in services], n, at, lambda i: _gather_at(order, u_los, i))
    assessment_u = partial(_assessment_uniforms, streams, sources, kept)
    return step_up_los, service_los, _rows_at([s.assessment for s in services], n, at, assessment_u)


def _rows_at(
    specs: list[LosDistribution] | list[LosDistribution | None],
    n: int,
    at: np.ndarray | None,
    uniforms: Callable[[np.ndarray | None], np.ndarray],
) -> np.ndarray:
    """``ppf_rows(specs, u)`` for the ``n`` uniforms ``u = uniforms(None)``, in the columns ``at``
    only (from ``uniforms(at)``; every column when None): elsewhere NaN in the rows of a
    distribution, zeros where a spec is None (as ppf_rows). Quantiles are taken number by
    number, so a column drawn has the bits it has in the whole."""
    if at is None:
        return ppf_rows(specs, uniforms(None))
    rows = np.full((len(specs), n), np.nan)  # one pass over the rows (several MB each)
    rows[[i for i, spec in enumerate(specs) if spec is None]] = 0.0
    rows[:, at] = ppf_rows(specs, uniforms(at))
    return rows


def _gather_at(order: np.ndarray | None, arrays: list[np.ndarray], at: np.ndarray | None) -> np.ndarray:
    """``_gather_concat(order, *arrays)[at]`` (the whole when None; ``order`` None: the first
    array as it is), gathering only those."""
    first, *rest = arrays
    n_first = first.size if order is None else order.size
    if at is None:
        return np.concatenate(arrays) if order is None else _gather_concat(order, *arrays)
    k = int(np.searchsorted(at, n_first))  # at is sorted: the first array's first
    head = first.take(at[:k] if order is None else order.take(at[:k]))
    return np.concatenate([head, *([np.concatenate(rest).take(at[k:] - n_first)] if rest else [])])


def _assessment_uniforms(
    streams: Streams,
    sources: tuple[_Arrivals, ...],
    kept: tuple[np.ndarray | None, np.ndarray | None, int],
    at: np.ndarray | None = None,
) -> np.ndarray:
    """The assessment quantiles (of the candidates ``at``; all when None): each source draws its
    own, for every candidate it drew, so electives never shift an emergency's; the emergencies'
    are taken in time order (``kept``: the emergencies and electives kept, None: all; and how
    many electives were drawn)."""
    em, _, census = sources
    em_index, el_index, n_el_drawn = kept
    first = streams["assessment"].random(em.time_days.size)
    electives = streams["elective_assessment"].random(n_el_drawn)
    if el_index is not None:
        electives = electives.take(el_index)
    return _gather_at(em_index, [first, electives, streams["census_assessment"].random(census.time_days.size)], at)


def _census(cfg: Config, streams: Streams, group_dtype: np.dtype) -> tuple[_Arrivals, CensusBlock | None]:
    """The census's acute, service and boarding patients as candidates (the waiting list joins
    the electives), each with draws from the census's own streams, so a census never shifts the
    draws of the patients who arrive later."""
    state = cfg.initial_state
    if state is None or not (state.acute or state.services or state.boarding):
        return _no_arrivals(group_dtype), None
    groups = {name: i for i, name in enumerate(cfg.groups)}
    groups[ELECTIVE_GROUP] = len(cfg.groups)
    services = {name: i for i, name in enumerate(cfg.services)}
    in_stay = [a for a in state.acute if a.fit_elapsed_days is None]
    fit = [a for a in state.acute if a.fit_elapsed_days is not None]
    in_service = [s for s in state.services if s.finished_elapsed_days is None]
    blocked = [s for s in state.services if s.finished_elapsed_days is not None]
    rows = (
        [(IN_STAY, groups[a.group], a.elapsed_days, np.nan, -1) for a in in_stay]
        + [
            (FIT_WAITING, groups[a.group], a.elapsed_days, a.fit_elapsed_days, services[a.waiting_for or ""])
            for a in fit
        ]
        + [(IN_SERVICE, len(cfg.groups) + 1, s.elapsed_days, np.nan, services[s.service]) for s in in_service]
        + [
            (BLOCKED, len(cfg.groups) + 1, s.elapsed_days, s.finished_elapsed_days, services[s.service])
            for s in blocked
        ]
        + [(BOARDING, groups[b.group], b.elapsed_days, np.nan, -1) for b in state.boarding]
    )
    kind, group, elapsed, fit_elapsed, service = (np.array(c) for c in zip(*rows, strict=True))
    waits = [-1] * (len(rows) - len(blocked) - len(state.boarding)) + [services[s.waiting_for or ""] for s in blocked]
    waits += [-1] * len(state.boarding)
    k = kind.size
    block = CensusBlock(
        kind=kind.astype(np.int64),
        elapsed_days=elapsed.astype(float),
        fit_elapsed_days=fit_elapsed.astype(float),
        service=service.astype(np.int64),
        waiting_for=np.array(waits, dtype=np.int64),
        u_stay=streams["census_stay"].random(k),
    )
    # Arrival (or service start) before day 0, strictly (-0.0 would count as arriving on day 0).
    time = np.minimum(-block.elapsed_days, np.nextafter(0.0, -1.0))
    arrivals = _Arrivals(
        time_days=time,
        priority=np.full(k, -1, dtype=np.int64),
        bookable_days=np.full(k, np.nan),
        group=group.astype(group_dtype),
        u_accept=np.full(k, -1.0),  # already here: never thinned
        u_los=np.full(k, np.nan),  # unused: the stay is drawn at day 0 from the tail beyond the elapsed time
        u_step_up=np.ones(k),
        u_step_up_los=np.zeros(k),  # unused
        u_pathway=streams["census_pathway"].random(k),
        u_service_los=streams["census_service_los"].random(k),
    )
    return arrivals, block


def _no_arrivals(group_dtype: np.dtype) -> _Arrivals:
    empty = np.empty(0)
    return _Arrivals(empty, np.empty(0, dtype=np.int64), empty, np.empty(0, dtype=group_dtype), *[empty] * 6)


class OnwardDraws:
    """The numbers of a patient's later community visits: the route out of its k-th visit
    (k = 0, 1, ...) and, for visit k >= 1, the stay and the assessment (visit 0 uses the
    candidate's own ``service_los_days`` and ``assessment_days``).

    One named stream per number and depth, drawn for every candidate of the full draw when first
    needed (during the run), so the numbers depend only on the replication seed, the candidate and
    the depth - never on the state of the system, on when they were first needed or on the plan.
    """

    def __init__(self, cfg: Config, cand: Candidates) -> None:
        self.los_dists = [s.los for s in cfg.services.values()]
        self.assessment_dists = [s.assessment for s in cfg.services.values()]
        n = len(cand)
        self.index = cand.source_index if cand.source_index is not None else np.arange(n)
        self.n_drawn = cand.n_drawn if cand.source_index is not None else n
        self.streams = Streams(cand.replication_seed)
        self._cache: dict[tuple[str, int, int], np.ndarray] = {}

    def _uniform(self, name: str, depth: int) -> np.ndarray:
        # Each stream is read once, whole (a second read would give other numbers).
        key = (name, depth, -1)
        if key not in self._cache:
            self._cache[key] = self.streams[f"{name}.{depth}"].random(self.n_drawn)[self.index]
        return self._cache[key]

    def route(self, depth: int) -> np.ndarray:
        """Per candidate: the uniform that picks the route out of its ``depth``-th visit."""
        return self._uniform("onward_route", depth)

    def los_days(self, depth: int, service: int) -> np.ndarray:
        """Per candidate: its stay in ``service`` if that is its ``depth``-th visit (depth >= 1)."""
        key = ("los", depth, service)
        if key not in self._cache:
            self._cache[key] = ppf(self.los_dists[service], self._uniform("onward_los", depth))
        return self._cache[key]

    def assessment_days(self, depth: int, service: int) -> np.ndarray:
        """Per candidate: ``service``'s assessment before its ``depth``-th visit (depth >= 1)."""
        key = ("assessment", depth, service)
        if key not in self._cache:
            dist = self.assessment_dists[service]
            u = self._uniform("onward_assessment", depth)
            self._cache[key] = ppf(dist, u) if dist is not None else np.zeros(u.size)
        return self._cache[key]


def _day_of(time_days: np.ndarray) -> np.ndarray:
    """``np.maximum(np.floor(time_days), 0).astype(np.int64)``, with one temporary."""
    day: np.ndarray = np.floor(time_days)
    np.maximum(day, 0, out=day)
    return day.astype(np.int64)


def _time_order(time_days: np.ndarray, per_day: np.ndarray | None = None) -> np.ndarray:
    """The stable sort order of the emergencies' times (drawn day by day, ``per_day`` a day,
    unsorted within a day). Compiled: a bucket sort, linear in time, day by day (a day's times
    fit in cache) when ``per_day`` is given. numpy: times almost never tie, and without ties
    every sort gives the stable order, so the fast (unstable) sort is used and the stable one
    only when two times are equal."""
    kernels = compiled.array_kernels()
    if kernels is not None and per_day is not None:
        by_day: np.ndarray
        by_day, done = kernels.stable_argsort_by_day(np.ascontiguousarray(time_days, dtype=float), per_day)
        if done:
            return by_day
    order = _compiled_stable_order(time_days)
    if order is not None:
        return order
    order = np.argsort(time_days)
    t = time_days[order]
    if np.any(t[1:] == t[:-1]) or np.isnan(t[-1:]).any():
        order = np.argsort(time_days, kind="stable")
    return order


def stable_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` (float values), compiled where it can be."""
    order = _compiled_stable_order(values)
    return order if order is not None else np.argsort(values, kind="stable")


def _compiled_stable_order(values: np.ndarray) -> np.ndarray | None:
    """The stable sort order from the compiled bucket sort; None without numba or when a value
    is not finite."""
    kernels = compiled.array_kernels()
    if kernels is None:
        return None
    order, done = kernels.stable_argsort(np.ascontiguousarray(values, dtype=float))
    return order if done else None


def _gather_concat(order: np.ndarray, first: np.ndarray, *rest: np.ndarray) -> np.ndarray:
    """``np.concatenate([first[order], *rest])`` (1-d) without the intermediate copy."""
    out = np.empty(order.size + sum(r.size for r in rest), np.result_type(first, *rest))
    np.take(first, order, out=out[: order.size], mode="clip")  # order holds valid indices: no check
    at = order.size
    for r in rest:
        out[at : at + r.size] = r
        at += r.size
    return out


def row_entries(rows: np.ndarray, row: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``rows[row[i], column[i]]`` for each i (a patient's stay in its own service's row), 0.0
    where ``row[i]`` is negative (no service)."""
    rows = np.ascontiguousarray(rows, dtype=float)
    row, column = np.ascontiguousarray(row, dtype=np.int64), np.ascontiguousarray(column, dtype=np.int64)
    kernels = compiled.array_kernels()
    if kernels is not None and rows.ndim == 2:
        out: np.ndarray = kernels.row_entries(rows, row, column)
        return out
    # Flat positions: several times faster than indexing the 2-d array with two index arrays.
    values: np.ndarray = rows.ravel().take(np.maximum(row, 0) * rows.shape[1] + column)
    values[row < 0] = 0.0
    return values


def _bin_of(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cum, u, side="right")``: the bin of each uniform (by counting, faster,
    when numba is there and the edges are sorted: the same answer)."""
    kernels = compiled.array_kernels()
    if kernels is not None and np.all(cum[1:] >= cum[:-1]):
        out: np.ndarray = kernels.count_at_or_below(cum, u).astype(np.intp, copy=False)
        return out
    return np.searchsorted(cum, u, side="right")


def _cumulative(probs: list[float]) -> np.ndarray:
    cum = np.cumsum(probs)
    cum[-1] = 1.0  # shares sum to 1 within tolerance; make the last bin catch everything
    return cum
