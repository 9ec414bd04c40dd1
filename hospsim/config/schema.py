"""The system description: YAML -> validated, frozen, typed objects.

Nothing runs on a bad config: unknown keys, wrong types and impossible values raise
:class:`ConfigError`, whose message is one line naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any, Literal, NoReturn

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

from . import dates
from .distributions import LosDistribution
from .errors import did_you_mean
from .limits import (
    MAX_COST_GBP_PER_DAY,
    MAX_FACTOR,
    MAX_GROWTH_PER_YEAR,
    MAX_HORIZON_DAYS,
    MAX_INITIAL_LIST,
    MAX_LOS_DAYS,
    MAX_PER_DAY,
    MAX_PLACES,
    MAX_REFERRALS_PER_WEEK,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_WAIT_HOURS,
)
from .schedules import (
    Condition,
    Day,
    DayOrDate,
    NonNegativeSchedule,
    PlacesSchedule,
    PositiveSchedule,
    Ramp,
    Schedule,
    ShareSchedule,
)
from .service_kinds import DISCHARGE, SERVICE_KINDS, STEP_UP_KIND, ServiceKind

HOME = "home"  # the discharge pathway that needs no community service
UNLIMITED = "unlimited"  # a service's capacity when it has no limit (a delay that needs no scarce place)
# Configs written before services had a kind named their step-up service "step_up"; a service of
# that name with no kind is still of kind step_up (see Config._legacy_step_up_kind).
STEP_UP = "step_up"
EMERGENCY_MULTIPLIER = "demand.emergency.multiplier"
_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    # Every float finite: NaN and infinity are never a value; every number has a ceiling (limits).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


WeekdayFactor = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
HourlyFactor = Annotated[float, Field(ge=0, le=MAX_FACTOR)]
Month = Annotated[StrictInt, Field(ge=1, le=12)]
Cost = Annotated[float, Field(ge=0, le=MAX_COST_GBP_PER_DAY)]  # £ a day


class Escalation(_Strict):
    """Extra beds opened in winter months, used only when the core beds are full."""

    beds: StrictInt = Field(ge=0, le=MAX_PLACES)
    months: list[Month] = Field(default=[12, 1, 2, 3], min_length=1)


class Acute(_Strict):
    beds: PlacesSchedule
    when_full: Literal["queue", "refuse"] = "queue"
    # With `queue`: an emergency still waiting after this many hours is transferred to another
    # hospital (mutual aid, ambulance diversion) instead of waiting on. None: waits without limit.
    max_wait_hours: float | None = Field(default=None, gt=0, le=MAX_WAIT_HOURS)
    escalation: Escalation | None = None
    delayed_day_cost_gbp: Cost | None = None


class Winter(_Strict):
    amplitude: float = Field(ge=0, lt=1)
    peak_day_of_year: StrictInt = Field(default=15, ge=1, le=366)


class Emergency(_Strict):
    per_day: float = Field(gt=0, le=MAX_PER_DAY)
    growth_per_year: float = Field(default=0.0, gt=-1, le=MAX_GROWTH_PER_YEAR)
    weekday_factors: list[WeekdayFactor] = Field(default=[1.0] * 7, min_length=7, max_length=7)
    hourly_factors: list[HourlyFactor] = Field(default=[1.0] * 24, min_length=24, max_length=24)
    winter: Winter | None = None
    multiplier: NonNegativeSchedule = Schedule(constant=1.0)
    # Candidates are drawn at `headroom` x the rate without growth or plan, then thinned to growth
    # x multiplier: the draws do not depend on either, so scenarios keep the same patients.
    headroom: float = Field(default=1.5, ge=1, le=10)

    @field_validator("hourly_factors")
    @classmethod
    def _hourly(cls, v: list[float]) -> list[float]:
        if sum(v) <= 0:
            raise ValueError("hourly factors must not all be 0")
        return v

    def growth_factors(self, n_days: int) -> np.ndarray:
        """Demand growth on each day: ``(1 + growth_per_year) ** (day / 365.25)``."""
        return np.asarray((1.0 + self.growth_per_year) ** (np.arange(n_days, dtype=float) / 365.25), dtype=float)


class InitialList(_Strict):
    """Patients already on the elective waiting list at day 0, their waits spread evenly over
    ``0 .. max_wait_weeks``."""

    patients: StrictInt = Field(ge=0, le=MAX_INITIAL_LIST)
    max_wait_weeks: float = Field(default=18.0, ge=0, le=520)


class Elective(_Strict):
    """Elective (planned) care: referrals join a waiting list and are booked into theatre slots.

    Referrals arrive as a Poisson process (``referrals_per_week`` with ``referral_growth_per_year``)
    and never depend on the plan. A referral becomes bookable ``bookable_after`` days later
    (outpatients, diagnostics; the RTT clock runs throughout). Each weekday the plan's
    ``per_weekday`` slots are filled from the bookable patients in order of clinical priority
    (``priorities``, most urgent first), then referral time; a patient cancelled for want of a bed
    goes back to the top of the list and is booked again.
    """

    per_weekday: PlacesSchedule  # theatre slots each weekday (the plan's elective capacity)
    referrals_per_week: float = Field(gt=0, le=MAX_REFERRALS_PER_WEEK)
    # The plan's demand management: the share of referrals kept (at most 1). Referrals are thinned,
    # so every referral of a plan with fewer is one of the baseline's, with the same draws.
    referral_multiplier: ShareSchedule = Schedule(constant=1.0)
    referral_growth_per_year: float = Field(default=0.0, gt=-1, le=MAX_GROWTH_PER_YEAR)
    priorities: dict[str, float] = Field(default={"routine": 1.0}, min_length=1)
    bookable_after: LosDistribution | None = None
    initial_list: InitialList | None = None
    admit_hour: float = Field(default=8.0, ge=0, lt=24)
    spread_hours: float = Field(default=4.0, ge=0, lt=24)
    los: LosDistribution
    pathways: dict[str, float] = Field(default={HOME: 1.0})

    @field_validator("priorities")
    @classmethod
    def _priorities(cls, v: dict[str, float]) -> dict[str, float]:
        for name, share in v.items():
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(f"{name!r}: names must be lower_snake_case (a-z, 0-9, _)")
            if not 0 < share <= 1:
                raise ValueError(f"{name}: a share must be in (0, 1] (got {share:g})")
        total = sum(v.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"shares must sum to 1 (got {total:g})")
        return v

    @model_validator(mode="after")
    def _within_day(self) -> Elective:
        if self.admit_hour + self.spread_hours >= 24:
            raise ValueError("admit_hour + spread_hours must be < 24")
        return self


class Demand(_Strict):
    emergency: Emergency
    elective: Elective | None = None


class PathwayChange(_Strict):
    """A plan's shift of a group's discharge-pathway mix from ``pathways`` to ``to``, linear over
    ``duration_days`` from ``start_day`` (optionally gated)."""

    to: dict[str, float]
    start_day: DayOrDate
    duration_days: Day = 0
    gate: list[Condition] | None = None

    @field_validator("gate", mode="before")
    @classmethod
    def _gate_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, dict) else v

    def fraction(self) -> Schedule:
        """Share of the way from the old mix to the new one, per day, as a (gated) schedule."""
        return Schedule(
            ramp=Ramp.model_validate(
                {"from": 0.0, "to": 1.0, "start_day": self.start_day, "duration_days": self.duration_days}
            ),
            gate=self.gate,
        )


class Group(_Strict):
    """A patient group: its share of emergencies, acute LOS, step-up suitability, pathways."""

    share: float = Field(gt=0, le=1)
    los: LosDistribution
    los_multiplier: PositiveSchedule = Schedule(constant=1.0)
    step_up_share: ShareSchedule = Schedule(constant=0.0)
    pathways: dict[str, float] = Field(default={HOME: 1.0})
    pathways_change: PathwayChange | None = None


def _capacity_form(value: Any) -> str:
    return UNLIMITED if isinstance(value, str) else "places"


# A service's capacity: places (a schedule) or the word ``unlimited`` (told apart by type, so a
# bad value gets the one error of the form it was written in).
Capacity = Annotated[
    Annotated[PlacesSchedule, Tag("places")] | Annotated[Literal["unlimited"], Tag(UNLIMITED)],
    Discriminator(_capacity_form),
]
CAPACITY_FORMS = ("places", UNLIMITED)  # the tags pydantic puts in an error's location


class Service(_Strict):
    """A community service (intermediate care or care-home placement): its places (or
    ``unlimited``), its length of stay, the assessment of patients transferring in, and where
    its patients go next (``pathways``: home or other services; blocking after service)."""

    kind: str = DISCHARGE.name  # one of SERVICE_KINDS
    capacity: Capacity
    los: LosDistribution
    # Time from ready to leave the sender's place (acute bed or another service) to ready to
    # transfer in (assessment, arranging care, funding), spent in that place and counted as a
    # delayed transfer out of it. None: ready at once.
    assessment: LosDistribution | None = None
    assessment_multiplier: PositiveSchedule = Schedule(constant=1.0)  # plan lever, e.g. discharge to assess
    place_day_cost_gbp: Cost | None = None
    # Where patients go at the end of their stay here (onward transfers hold this place until
    # the receiving service takes them).
    pathways: dict[str, float] = Field(default={HOME: 1.0})
    pathways_change: PathwayChange | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in SERVICE_KINDS:
            raise ValueError(f"unknown kind {v!r}{did_you_mean(v, SERVICE_KINDS, 'kinds')}")
        return v

    @property
    def service_kind(self) -> ServiceKind:
        """What this service does (see :mod:`hospsim.config.service_kinds`)."""
        return SERVICE_KINDS[self.kind]

    @property
    def unlimited(self) -> bool:
        """Has the service no capacity limit (nobody ever waits for a place)?"""
        return isinstance(self.capacity, str)

    @property
    def routes_onward(self) -> bool:
        """May patients go from here to another service (now or after a plan's change)?"""
        change = self.pathways_change.to if self.pathways_change is not None else {}
        return any(d != HOME for d in {**self.pathways, **change})

    @property
    def places(self) -> Schedule:
        """The capacity schedule of a service with a limit."""
        if isinstance(self.capacity, str):
            raise ValueError("an unlimited service has no capacity schedule")
        return self.capacity


def _check_census_wait(field: str, since: float | None, elapsed: float, waiting_for: str | None, who: str) -> None:
    """A census patient who is waiting to move on says since when (no longer than it has been
    there) and for which service; one who is not waiting names none."""
    if since is not None:
        if since > elapsed:
            raise ValueError(f"{field}: {since:g} is more than elapsed_days {elapsed:g}")
        if waiting_for is None:
            raise ValueError(f"waiting_for: {who} still holding its place waits for a service")
    elif waiting_for is not None:
        raise ValueError(f"waiting_for: only for {who} (give {field})")


class CensusAcute(_Strict):
    """A patient in an acute bed at day 0: its group (``elective`` for an elective admission), time
    since admission and, if already medically fit, time since then and the service it waits for."""

    group: str
    elapsed_days: float = Field(ge=0, le=MAX_LOS_DAYS)
    fit_elapsed_days: float | None = Field(default=None, ge=0, le=MAX_LOS_DAYS)
    waiting_for: str | None = None

    @model_validator(mode="after")
    def _fit(self) -> CensusAcute:
        _check_census_wait(
            "fit_elapsed_days", self.fit_elapsed_days, self.elapsed_days, self.waiting_for, "a medically fit patient"
        )
        return self


class CensusService(_Strict):
    """A patient in a community service at day 0, ``elapsed_days`` after moving in; if it has
    finished its stay and waits to move on (blocked), time since then and the service it waits for."""

    service: str
    elapsed_days: float = Field(ge=0, le=MAX_LOS_DAYS)
    finished_elapsed_days: float | None = Field(default=None, ge=0, le=MAX_LOS_DAYS)
    waiting_for: str | None = None

    @model_validator(mode="after")
    def _finished(self) -> CensusService:
        _check_census_wait(
            "finished_elapsed_days",
            self.finished_elapsed_days,
            self.elapsed_days,
            self.waiting_for,
            "a patient who finished its stay",
        )
        return self


class CensusBoarding(_Strict):
    """An emergency waiting for an acute bed at day 0, arrived ``elapsed_days`` ago."""

    group: str
    elapsed_days: float = Field(ge=0, le=MAX_LOS_DAYS)


class CensusListed(_Strict):
    """An elective on the waiting list at day 0, referred ``elapsed_days`` ago."""

    priority: str
    elapsed_days: float = Field(ge=0, le=MAX_LOS_DAYS)


class InitialState(_Strict):
    """The system at day 0 (a census): who is where and for how long already. Residual stays are
    drawn from each distribution's tail beyond the time already spent."""

    acute: list[CensusAcute] = Field(default_factory=list, max_length=MAX_INITIAL_LIST)
    services: list[CensusService] = Field(default_factory=list, max_length=MAX_INITIAL_LIST)
    boarding: list[CensusBoarding] = Field(default_factory=list, max_length=MAX_INITIAL_LIST)
    waiting_list: list[CensusListed] = Field(default_factory=list, max_length=MAX_INITIAL_LIST)


class PlanDelivery(_Strict):
    """How the intermediate-care part of a plan is delivered, relative to what was planned.

    Each schedule listed in ``applies_to`` (dotted paths; default: every community service's
    capacity) is delivered late and partly: every planned change happens ``ic_delay_days`` later
    and reaches only ``ic_growth_achieved`` of its size. List a plan's IC-dependent levers too
    (e.g. ``groups.frail_older.los_multiplier``, ``groups.frail_older.pathways_change``) when they
    can only happen as the IC capacity arrives.
    """

    ic_delay_days: Day = 0
    ic_growth_achieved: float = Field(default=1.0, ge=0, le=2)
    applies_to: list[str] | None = None


def _mix_owners(cfg: Config) -> dict[str, Group | Service]:
    """Everything with a pathway mix that a plan may change, by dotted path: groups, then services."""
    return {
        **{f"groups.{n}": g for n, g in cfg.groups.items()},
        **{f"services.{n}": s for n, s in cfg.services.items()},
    }


def _route_field(name: str, svc: Service, dest: str) -> str:
    """The field that sends patients of service ``name`` to ``dest``: its pathways, else its change."""
    if svc.pathways.get(dest, 0.0) > 0 or svc.pathways_change is None:
        return f"services.{name}.pathways.{dest}"
    return f"services.{name}.pathways_change.to.{dest}"


def _routes(svc: Service) -> set[str]:
    """Where a service may send patients, now or after its plan's change (shares above 0)."""
    mixes = [svc.pathways] + ([svc.pathways_change.to] if svc.pathways_change is not None else [])
    return {d for mix in mixes for d, p in mix.items() if p > 0}


def _check_no_deadlock(services: dict[str, Service]) -> None:
    """No cycle of onward routes among services with a capacity limit.

    Under blocking after service a patient who has finished its stay keeps its place until the
    next service takes it, so a cycle of full services whose patients all wait for the next one
    never moves again - whatever share of patients leaves the cycle (those who chose to stay in it
    are stuck; the exact CTMC of two 1-place services sending half their patients to each other
    has a closed class). An ``unlimited`` service never makes anyone wait, so a cycle through one
    cannot lock."""
    waits_for = {
        name: sorted(d for d in _routes(svc) if d != HOME and not services[d].unlimited)
        for name, svc in services.items()
    }
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in waits_for[name]:
            if state.get(nxt) == 1:
                cycle = " -> ".join([*path[path.index(nxt) :], nxt])
                raise ValueError(
                    f"{_route_field(name, services[name], nxt)}: the onward routes {cycle} form a cycle of "
                    "services with limited capacity, which can lock (each full of patients waiting for the "
                    "next); break it with a service of capacity: unlimited"
                )
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in services:
        if name not in state:
            visit(name, [name])


def _check_way_home(services: dict[str, Service]) -> None:
    """From every service patients can reach home, with each service's routes as written or as
    its plan's change leaves them, in any combination (a mix part-way between the two has the
    routes of both, so these are the worst cases): a closed cycle through an unlimited service
    would keep its patients for ever."""
    changing = [name for name, svc in services.items() if svc.pathways_change is not None]
    for changed in itertools.product((False, True), repeat=len(changing)):
        now_changed = {name for name, c in zip(changing, changed, strict=True) if c}
        mixes = {
            name: svc.pathways_change.to if name in now_changed and svc.pathways_change else svc.pathways
            for name, svc in services.items()
        }
        leaves = {name for name, mix in mixes.items() if mix.get(HOME, 0.0) > 0}
        grew = True
        while grew:  # add services with a route to one from which patients get home
            grew = False
            for name, mix in mixes.items():
                if name not in leaves and any(p > 0 and d in leaves for d, p in mix.items()):
                    leaves.add(name)
                    grew = True
        for name, mix in mixes.items():
            if name not in leaves:
                field = f"services.{name}.pathways" + ("_change.to" if name in now_changed else "")
                trapped = ", ".join(sorted(d for d, p in mix.items() if p > 0))
                raise ValueError(
                    f"{field}: patients sent to {name} would never get home (its routes lead only to "
                    f"{trapped}, from which no route leads home{' while ' + ', '.join(sorted(now_changed)) + ' has changed' if now_changed else ''})"
                )


ELECTIVE_GROUP = "elective"  # the census group of an elective admission


def _check_census(cfg: Config, census: InitialState) -> None:
    """Every census row names a group, service or priority the config has."""
    groups = [*cfg.groups, *([ELECTIVE_GROUP] if cfg.demand.elective is not None else [])]
    takers = [n for n, s in cfg.services.items() if s.service_kind.takes_transfers]
    for i, a in enumerate(census.acute):
        if a.group not in groups:
            raise ValueError(
                f"initial_state.acute.{i}.group: no group {a.group!r}{did_you_mean(a.group, groups, 'groups')}"
            )
        if a.waiting_for is not None and a.waiting_for not in takers:
            hint = did_you_mean(a.waiting_for, takers, "services taking transfers")
            raise ValueError(f"initial_state.acute.{i}.waiting_for: no service {a.waiting_for!r} takes transfers{hint}")
    for i, sv in enumerate(census.services):
        if sv.service not in cfg.services:
            hint = did_you_mean(sv.service, cfg.services, "services")
            raise ValueError(f"initial_state.services.{i}.service: no service {sv.service!r}{hint}")
        if sv.waiting_for is not None and (sv.waiting_for not in takers or sv.waiting_for == sv.service):
            hint = did_you_mean(sv.waiting_for, takers, "services taking transfers")
            raise ValueError(
                f"initial_state.services.{i}.waiting_for: {sv.waiting_for!r} is not another service taking transfers{hint}"
            )
    for i, b in enumerate(census.boarding):
        if b.group not in cfg.groups:
            raise ValueError(
                f"initial_state.boarding.{i}.group: no group {b.group!r}{did_you_mean(b.group, cfg.groups, 'groups')}"
            )
    if census.boarding and cfg.acute.when_full != "queue":
        raise ValueError("initial_state.boarding: patients wait for a bed only with acute.when_full: queue")
    if census.waiting_list:
        el = cfg.demand.elective
        if el is None:
            raise ValueError("initial_state.waiting_list: needs demand.elective")
        if el.initial_list is not None:
            raise ValueError(
                "initial_state.waiting_list: give the starting list here or in demand.elective.initial_list, not both"
            )
        for i, w in enumerate(census.waiting_list):
            if w.priority not in el.priorities:
                hint = did_you_mean(w.priority, el.priorities, "priorities")
                raise ValueError(f"initial_state.waiting_list.{i}.priority: no priority {w.priority!r}{hint}")


def _check_mix(where: str, mix: dict[str, float], services: dict[str, Service]) -> None:
    for name, p in mix.items():
        if name != HOME and name not in services:
            known = [HOME] + [s for s, svc in services.items() if svc.service_kind.takes_transfers]
            raise ValueError(f"{where}.{name}: no pathway {name!r}{did_you_mean(name, known, 'pathways')}")
        if name != HOME and not services[name].service_kind.takes_transfers:
            raise ValueError(f"{where}.{name}: a service of kind {services[name].kind} takes no discharges")
        if not 0 <= p <= 1:
            raise ValueError(f"{where}.{name}: a share must be in [0, 1] (got {p:g})")
    total = sum(mix.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(f"{where}: shares must sum to 1 (got {total:g})")


class Config(_Strict):
    """A whole local system: acute hospital, demand, patient groups and community services."""

    name: str = Field(min_length=1)
    description: str = ""
    start_date: dt.date
    horizon_days: StrictInt = Field(gt=0, le=MAX_HORIZON_DAYS)
    warmup_days: StrictInt = Field(default=0, ge=0, le=MAX_HORIZON_DAYS)
    replications: StrictInt = Field(default=10, ge=1, le=MAX_REPLICATIONS)
    seed: StrictInt = Field(default=12345, ge=0, le=MAX_SEED)
    acute: Acute
    demand: Demand
    groups: dict[str, Group] = Field(min_length=1)
    services: dict[str, Service] = Field(default_factory=dict)
    plan_delivery: PlanDelivery = PlanDelivery()
    initial_state: InitialState | None = None  # a census at day 0 (else the system starts empty)
    # Which engine runs the config (hospsim.model.engines): simpy and fast give the same results;
    # flow is the deterministic stock-and-flow view of the same config, one run of expected
    # numbers. The engine is how a config is run, not what it is: it is left out of the config's
    # hash (a flow run and a DES run of one config share it), and out of its saved form when it
    # is the default.
    engine: Literal["simpy", "fast", "flow"] = "simpy"

    @field_validator("groups", "services")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(f"{name!r}: names must be lower_snake_case (a-z, 0-9, _)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.warmup_days >= self.horizon_days:
            raise ValueError(f"warmup_days: must be < horizon_days ({self.warmup_days} >= {self.horizon_days})")
        total = sum(g.share for g in self.groups.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"groups: shares must sum to 1 (got {total:g})")
        for gname, g in self.groups.items():
            _check_mix(f"groups.{gname}.pathways", g.pathways, self.services)
            if g.pathways_change is not None:
                _check_mix(f"groups.{gname}.pathways_change.to", g.pathways_change.to, self.services)
            if max(g.step_up_share.values()) > 0 and self.step_up_service is None:
                raise ValueError(
                    f"groups.{gname}.step_up_share: needs a service of kind {STEP_UP_KIND.name} in services"
                )
        if self.acute.max_wait_hours is not None and self.acute.when_full != "queue":
            raise ValueError("acute.max_wait_hours: only with when_full: queue")
        diverting = [n for n, s in self.services.items() if s.service_kind.diverts_arrivals]
        if len(diverting) > 1:
            raise ValueError(
                f"services.{diverting[1]}.kind: only one service may take diverted arrivals ({diverting[0]} does)"
            )
        for name, svc in self.services.items():
            if svc.assessment is not None and not svc.service_kind.allows_assessment:
                raise ValueError(
                    f"services.{name}.assessment: a {svc.kind} service takes patients at once or not at all"
                )
        if self.demand.elective is not None:
            _check_mix("demand.elective.pathways", self.demand.elective.pathways, self.services)
        for name, svc in self.services.items():
            if svc.unlimited and svc.place_day_cost_gbp is not None:
                raise ValueError(
                    f"services.{name}.place_day_cost_gbp: a service with capacity: unlimited has no places to cost"
                )
            _check_mix(f"services.{name}.pathways", svc.pathways, self.services)
            if svc.pathways_change is not None:
                _check_mix(f"services.{name}.pathways_change.to", svc.pathways_change.to, self.services)
        _check_no_deadlock(self.services)
        _check_way_home(self.services)
        if self.initial_state is not None:
            _check_census(self, self.initial_state)
        known = [p for p, _ in plan_schedules(self, delivered=False)]
        known += [f"{p}.pathways_change" for p in _mix_owners(self) if f"{p}.pathways_change" not in known]
        for p in self.plan_delivery.applies_to or []:
            if p not in known:
                hint = did_you_mean(p, known, "plan schedules")
                raise ValueError(f"plan_delivery.applies_to: {p!r} is not a plan schedule{hint}")
        for path, sched in plan_schedules(self, delivered=False):
            for check in _config_checks(self, path):
                try:
                    check(sched)
                except ValueError as exc:
                    raise ValueError(f"{path}: {exc}") from None
        _check_delivered(self)
        for path, sched in gated_schedules(self):
            for cond in sched.gate or []:
                if cond.service_capacity_at_least is not None:
                    needed = cond.service_capacity_at_least.service
                    if needed not in self.services:
                        hint = did_you_mean(needed, self.services, "services")
                        raise ValueError(f"{path}.gate.service_capacity_at_least.service: no service {needed!r}{hint}")
                    if path == f"services.{needed}.capacity":
                        raise ValueError(f"{path}.gate: a service's capacity cannot wait for itself")
                    if self.services[needed].unlimited:
                        raise ValueError(
                            f"{path}.gate.service_capacity_at_least.service: {needed} has capacity: unlimited"
                        )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _days_from_start_date(cls, data: Any, handler: Callable[[Any], Config]) -> Config:
        # Days written as dates (steps, start_day) count from this config's start_date.
        start = data.get("start_date") if isinstance(data, dict) else None
        with dates.counting_from(start):
            return handler(data)

    @model_validator(mode="before")
    @classmethod
    def _legacy_step_up_kind(cls, data: Any) -> Any:
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, dict):
            return data
        svc = services.get(STEP_UP)
        if isinstance(svc, dict) and "kind" not in svc:
            data = {**data, "services": {**services, STEP_UP: {**svc, "kind": STEP_UP_KIND.name}}}
        return data

    @property
    def step_up_service(self) -> str | None:
        """The service that takes diverted emergencies (kind step_up), if any."""
        return next((n for n, s in self.services.items() if s.service_kind.diverts_arrivals), None)

    @property
    def has_onward_routes(self) -> bool:
        """Do patients go on from a community service to another (now or after a plan's change)?"""
        return any(s.routes_onward for s in self.services.values())

    @property
    def measured_days(self) -> int:
        return self.horizon_days - self.warmup_days

    def delivered(self, path: str, schedule: Schedule) -> Schedule:
        """The schedule at ``path`` as delivered (see :class:`PlanDelivery`)."""
        pd = self.plan_delivery
        targets = pd.applies_to
        applies = (
            path in targets if targets is not None else (path.startswith("services.") and path.endswith(".capacity"))
        )
        return schedule.delivered(pd.ic_delay_days, pd.ic_growth_achieved) if applies else schedule

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A new, validated config: this one with each ``dotted.path: value`` of ``overrides``
        set, as ``--set`` does (``{"acute.beds": 2000, "services.rehab_bed.capacity": 500}``;
        a value may be a whole schedule or section, ``{"steps": [[0, 2000], [400, 1800]]}``).

        All overrides are applied, then the result is validated once, so overrides that only make
        sense together (two shares that must sum to 1) are fine. A problem is a one-line
        :class:`~hospsim.config.errors.ConfigError` naming the overrides."""
        from .loading import config_from_dict, config_to_dict, set_dotted  # loading imports this module

        data = config_to_dict(self)
        for key, value in overrides.items():
            set_dotted(data, str(key), _plain(value), "override")
        keys = ", ".join(str(k) for k in overrides)
        return config_from_dict(data, f"{self.name} with overrides {keys}" if keys else self.name)

    @model_validator(mode="after")
    def _read_only(self) -> Config:
        # Frozen models refuse new values, but their lists and dicts would still change in place
        # (and the config hash with them): make every container of the validated tree read-only.
        _freeze(self)
        return self


class ReadOnlyDict(dict[Any, Any]):
    """A dict of a validated config: reading works as for any dict, changing it raises TypeError.
    Change a config with :meth:`Config.with_overrides`."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a config is read-only; make a changed copy with Config.with_overrides")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to worker processes) and copied as a plain dict, rebuilt read-only.
        return (type(self), (dict(self),))


class ReadOnlyList(list[Any]):
    """A list of a validated config: reading works as for any list, changing it raises TypeError."""

    _refuse = ReadOnlyDict._refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


def _freeze(value: Any) -> Any:
    """``value`` with its lists and dicts read-only, all the way down; models are changed in
    place (they are frozen and new: nobody else holds them yet, or they are frozen already).
    Subclasses of list and dict, not tuples: the schema's serializers and every reader (numpy,
    ``isinstance(x, dict)``) take them as they are, so dumps and hashes do not change."""
    if isinstance(value, BaseModel):
        for name, item in value.__dict__.items():
            value.__dict__[name] = _freeze(item)
        return value
    if isinstance(value, ReadOnlyDict | ReadOnlyList):
        return value
    if isinstance(value, dict):
        return ReadOnlyDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return ReadOnlyList(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    """An override's value as YAML would give it: numpy numbers as Python numbers, tuples as
    lists, mappings as dicts, dates as ISO text (what ``config_to_dict`` holds)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _check_delivered(cfg: Config) -> None:
    """Every schedule as delivered (late, partly or over-delivered) stays in its lever's range:
    an over-delivered plan cannot give a negative share or multiplier."""
    planned = dict(plan_schedules(cfg, delivered=False))
    pd = cfg.plan_delivery
    for path, sched in plan_schedules(cfg):
        if sched is planned[path]:
            continue
        try:
            if path.endswith(".pathways_change"):
                _check_mixes(_mix_owners(cfg)[path.removesuffix(".pathways_change")], sched)
            else:
                for check in _declared_checks(cfg, path) + _config_checks(cfg, path):
                    check(sched)
        except ValueError as exc:
            # Where in the delivered schedule (steps.1.1, ramp.to) is no number the user wrote: drop it.
            problem = re.sub(r"^(steps\.\d+\.1|ramp\.from|ramp\.to): ", "", str(exc))
            raise ValueError(
                f"plan_delivery.ic_growth_achieved: {pd.ic_growth_achieved:g} makes {path} out of range as "
                f"delivered ({problem})"
            ) from None


def _declared_checks(cfg: Config, path: str) -> list[Callable[..., Any]]:
    """The value checks the schema declares for the schedule at ``path`` (its field's type, e.g.
    ``ShareSchedule``), so a delivered schedule is held to the same range as a written one."""
    *parents, field = path.split(".")
    node: Any = cfg
    for part in parents:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    # A service's capacity is places or `unlimited`; only places are a schedule.
    places_checks: list[Any] = list(getattr(PlacesSchedule, "__metadata__", ()))
    metadata = (
        places_checks if isinstance(node, Service) and field == "capacity" else type(node).model_fields[field].metadata
    )
    return [m.func for m in metadata if isinstance(m, AfterValidator)]


def _config_checks(cfg: Config, path: str) -> list[Callable[[Schedule], Any]]:
    """The checks of the schedule at ``path`` that need the rest of the config (horizon, growth,
    headroom), applied to the schedule as written and as delivered."""
    return [partial(_check_headroom, cfg.demand.emergency, cfg.horizon_days)] if path == EMERGENCY_MULTIPLIER else []


def _check_headroom(em: Emergency, horizon_days: int, multiplier: Schedule) -> None:
    """Growth x ``multiplier`` never asks for more emergencies than the candidates drawn (headroom
    x the rate without growth), on any day, whenever a gate on the multiplier opens."""
    demand = em.growth_factors(horizon_days) * multiplier.daily_most(horizon_days)
    day = int(np.argmax(demand))
    if demand[day] > em.headroom:
        raise ValueError(
            f"growth x multiplier reaches {_above(float(demand[day]), em.headroom)} on day {day}, above "
            f"demand.emergency.headroom {em.headroom:g}; raise headroom"
        )


def _above(value: float, limit: float) -> str:
    """``value`` to 3 significant digits, or more if 3 would not show that it exceeds ``limit``."""
    short = f"{value:.3g}"
    return short if float(short) > limit else f"{value:.6g}"


def _check_mixes(group: Group | Service, fraction: Schedule) -> None:
    """The pathway mix at every fraction the delivered change reaches has no negative share (an
    over-delivered change goes past its target mix: allowed while the shares stay >= 0)."""
    change = group.pathways_change
    assert change is not None
    for f in fraction.values():
        for name in {**group.pathways, **change.to}:
            share = (1 - f) * group.pathways.get(name, 0.0) + f * change.to.get(name, 0.0)
            if share < -1e-12:
                raise ValueError(f"the share of {name} would be {share:.3g}")


def plan_schedules(cfg: Config, delivered: bool = True) -> list[tuple[str, Schedule]]:
    """Every schedule of a config with its dotted path (pathway changes as their 0->1 fraction),
    as delivered unless ``delivered=False``."""
    out: list[tuple[str, Schedule]] = [("acute.beds", cfg.acute.beds)]
    out.append((EMERGENCY_MULTIPLIER, cfg.demand.emergency.multiplier))
    if cfg.demand.elective is not None:
        out.append(("demand.elective.per_weekday", cfg.demand.elective.per_weekday))
        out.append(("demand.elective.referral_multiplier", cfg.demand.elective.referral_multiplier))
    for name, g in cfg.groups.items():
        out.append((f"groups.{name}.los_multiplier", g.los_multiplier))
        out.append((f"groups.{name}.step_up_share", g.step_up_share))
        if g.pathways_change is not None:
            out.append((f"groups.{name}.pathways_change", g.pathways_change.fraction()))
    for name, svc in cfg.services.items():
        if not svc.unlimited:
            out.append((f"services.{name}.capacity", svc.places))
        out.append((f"services.{name}.assessment_multiplier", svc.assessment_multiplier))
        if svc.pathways_change is not None:
            out.append((f"services.{name}.pathways_change", svc.pathways_change.fraction()))
    return [(p, cfg.delivered(p, s)) for p, s in out] if delivered else out


def gated_schedules(cfg: Config) -> list[tuple[str, Schedule]]:
    """The schedules that carry a gate, with their dotted paths."""
    return [(p, s) for p, s in plan_schedules(cfg) if s.gate]
