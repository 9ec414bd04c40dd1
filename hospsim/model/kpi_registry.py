"""The KPI registry: every KPI defined once, in output order.

Each :class:`Kpi` gives a name (a template ``{service}_…`` for one KPI per community service,
``gate_{gate}_…`` for one per gated schedule), a display label, a unit, a one-line description, a
group, how it is computed from one replication's measures (:mod:`hospsim.model.kpis`), whether an
experiment criterion may use it, and its monthly form (how it is computed month by month from the
daily table, for "first month breached"), if it has one.

Everything else reads the KPIs from here: :func:`hospsim.model.kpis.kpis` is a loop over
:data:`KPIS`, :func:`names` lists what a config produces, :func:`get` resolves a name (templates
included) for labels and units, the monthly table follows :func:`monthly_forms`, and
``tools/kpi_dictionary.py`` prints the README's KPI dictionary.

To add a KPI: add one entry to :data:`KPIS` at the place where it should appear in the output.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from ..config import errors
from .engine import AVOIDED, TRANSFERRED

if TYPE_CHECKING:  # only for annotations: kpis.py imports this module
    from ..config import Config
    from .kpis import GateMeasures, ServiceMeasures, WindowMeasures

HOURS = 24.0
WAIT_TOLERANCE_DAYS = 1e-9  # a wait shorter than this is float noise, not a wait
NAN = float("nan")

Scope = Literal["system", "gate", "service"]
# The placeholder in a template name, per scope.
PLACEHOLDER: dict[Scope, str] = {"gate": "gate", "service": "service"}
# Groups in the order the KPI dictionary shows them, with their headings.
GROUPS: dict[str, str] = {
    "demand": "Demand and admissions",
    "electives": "Elective care and the waiting list (only with `demand.elective`)",
    "waits": "Waits for an acute bed",
    "beds": "Acute beds",
    "delays": "Delayed transfers of care",
    "services": "Community services (one set per service `S`)",
    "gates": "Gates (one pair per gated schedule `P`)",
    "costs": "Costs (only when a cost is given in the config)",
}
# How a template is shown in the dictionary and in suggestions.
DISPLAY_SUBJECT = {"service": "S", "gate": "P"}


def ratio(num: float, den: float) -> float:
    """``num / den`` as a float, NaN when the denominator is not positive."""
    return float(num) / float(den) if den > 0 else NAN


def mean_or_nan(values: npt.NDArray[Any]) -> float:
    """Mean of ``values``, NaN when there are none."""
    return float(np.mean(values)) if values.size else NAN


@dataclass(frozen=True)
class Monthly:
    """A KPI's monthly form: how it is computed for one calendar month from the daily table.

    ``how``: ``sum`` or ``mean`` of ``column`` over the month's days; ``ratio``: ``scale`` × sum of
    ``column`` / sum of ``denominator`` (NaN when that is 0); ``share_above``: share of the
    month's days whose ``column`` is above ``level``. Besides the daily table's columns,
    ``emergencies_needing_bed``, ``occupancy_day`` and ``bed_days_demanded`` are available (see
    :func:`hospsim.analysis.verdicts.monthly_table`).
    """

    how: Literal["sum", "mean", "ratio", "share_above"]
    column: str
    denominator: str | None = None
    scale: float = 1.0
    level: float | None = None

    def __post_init__(self) -> None:
        if (self.how == "ratio") != (self.denominator is not None):
            raise ValueError(f"{self}: a ratio needs a denominator, and only a ratio has one")
        if (self.how == "share_above") != (self.level is not None):
            raise ValueError(f"{self}: share_above needs a level, and only share_above has one")

    def of_sums(self, numerator: Any, denominator: Any) -> Any:
        """A ratio form's value from the sums of ``column`` and ``denominator`` (pandas objects or
        numpy arrays, e.g. per month): NaN where the denominator is 0."""
        if isinstance(denominator, np.ndarray):  # the same arithmetic as pandas' below
            return self.scale * numerator / np.where(denominator > 0, denominator, np.nan)
        return self.scale * numerator / denominator.where(denominator > 0)

    def describe(self) -> str:
        """One line for the KPI dictionary, e.g. "sum of `occupied_beds_mean`"."""
        if self.how == "ratio":
            scale = "" if self.scale == 1.0 else f"{self.scale:,.0f} × "
            return f"{scale}sum of daily `{self.column}` / sum of daily `{self.denominator}`"
        if self.how == "share_above":
            return f"share of days with `{self.column}` > {self.level:g}"
        return f"{self.how} of daily `{self.column}`"


@dataclass(frozen=True)
class Kpi:
    """One KPI (or one template of per-service / per-gate KPIs)."""

    name: str  # e.g. "mean_occupancy", "{service}_utilisation", "gate_{gate}_opened"
    label: str  # short display label; templates fill in the service or gate
    unit: str
    group: str  # a key of GROUPS
    description: str  # one line, markdown
    compute: Callable[[Any], float] = field(repr=False, compare=False)  # of the scope's measures object
    scope: Scope = "system"
    monthly: Monthly | None = None
    # Produced only when this holds for the config and the subject (service name; "" otherwise).
    present: Callable[[Config, str], bool] | None = field(default=None, repr=False, compare=False)
    not_for_verdicts: str | None = None  # why a criterion may not use it (None: it may)

    @property
    def verdict(self) -> bool:
        """Whether an experiment criterion may use this KPI."""
        return self.not_for_verdicts is None

    def name_for(self, subject: str) -> str:
        """The KPI's name for a service name or a gate key (ignored for system KPIs)."""
        return self.name if self.scope == "system" else self.name.format(**{PLACEHOLDER[self.scope]: subject})

    @property
    def display_name(self) -> str:
        """The name as the KPI dictionary shows it: ``S_utilisation``, ``gate_P_opened``."""
        return self.name_for(DISPLAY_SUBJECT.get(self.scope, ""))

    def exists(self, cfg: Config, subject: str = "") -> bool:
        """Whether a run of ``cfg`` produces this KPI for ``subject``."""
        return self.present is None or self.present(cfg, subject)


@dataclass(frozen=True)
class KpiRef:
    """A KPI name resolved against the registry: its definition and the service or gate it is for."""

    name: str
    kpi: Kpi
    subject: str | None  # service name or gate key (schedule path with "_" for "."); None for system KPIs

    @property
    def label(self) -> str:
        """Display label, e.g. "mean occupancy", "home support: utilisation"."""
        if self.subject is None:
            return self.kpi.label
        return self.kpi.label.format(**{PLACEHOLDER[self.kpi.scope]: self.subject.replace("_", " ")})

    @property
    def unit(self) -> str:
        return self.kpi.unit

    @property
    def description(self) -> str:
        return self.kpi.description

    @property
    def group(self) -> str:
        return self.kpi.group

    @property
    def verdict(self) -> bool:
        return self.kpi.verdict

    @property
    def monthly(self) -> Monthly | None:
        return self.kpi.monthly


class UnknownKpiError(KeyError):
    """A KPI name that is not in the registry (the message suggests close matches)."""

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# Constructors, one per scope: they type-check ``compute`` against that scope's measures object.


def _system(
    name: str,
    label: str,
    unit: str,
    group: str,
    description: str,
    compute: Callable[[WindowMeasures], float],
    **more: Any,
) -> Kpi:
    return Kpi(name, label, unit, group, description, compute, "system", **more)


def _gate(
    name: str, label: str, unit: str, description: str, compute: Callable[[GateMeasures], float], **more: Any
) -> Kpi:
    return Kpi(name, label, unit, "gates", description, compute, "gate", **more)


def _service(
    name: str,
    label: str,
    unit: str,
    group: str,
    description: str,
    compute: Callable[[ServiceMeasures], float],
    **more: Any,
) -> Kpi:
    return Kpi(name, label, unit, group, description, compute, "service", **more)


def _sum(column: str) -> Monthly:
    return Monthly("sum", column)


def _mean(column: str) -> Monthly:
    return Monthly("mean", column)


def _needing_bed(column: str, scale: float = 1.0) -> Monthly:
    return Monthly("ratio", column, "emergencies_needing_bed", scale)


def _has_electives(cfg: Config, _subject: str) -> bool:
    return cfg.demand.elective is not None


def _list_quantile_weeks(q: float) -> Callable[[WindowMeasures], float]:
    def quantile(v: WindowMeasures) -> float:
        return v.list_wait_quantile_weeks(q)

    return quantile


def _delayed_cost(cfg: Config, _subject: str) -> bool:
    return cfg.acute.delayed_day_cost_gbp is not None


def _limited(cfg: Config, service: str) -> bool:
    return not cfg.services[service].unlimited


def _routes_onward(cfg: Config, service: str) -> bool:
    return cfg.services[service].routes_onward


def _has_onward_routes(cfg: Config, _subject: str) -> bool:
    return cfg.has_onward_routes


def _place_cost(cfg: Config, service: str) -> bool:
    return cfg.services[service].place_day_cost_gbp is not None


def _delayed_cost_gbp(v: WindowMeasures) -> float:
    cost = v.cfg.acute.delayed_day_cost_gbp
    assert cost is not None  # present only when configured
    return v.delayed_days * cost


def _capacity_cost_gbp(s: ServiceMeasures) -> float:
    cost = s.cfg.services[s.name].place_day_cost_gbp
    assert cost is not None  # present only when configured
    return float(s.places.sum() * cost)


# ---------------------------------------------------------------------------------------------
# The KPIs, in output order: system KPIs, one pair per gate, the delayed-transfer cost, then one
# set per service. Consecutive entries of one scope form a block, repeated per gate or service.

_NEEDING = "emergencies needing a bed"
KPIS: tuple[Kpi, ...] = (
    _system(
        "emergency_arrivals", "emergency arrivals", "patients", "demand",
        "emergency arrivals in the window",
        lambda v: float((v.m.emergency & v.arrived).sum()),
        not_for_verdicts="it is the demand put into the model, not an outcome of the plan",
    ),
    _system(
        "emergency_admissions", "emergency admissions", "patients", "demand",
        "emergencies admitted to an acute bed in the window",
        lambda v: float(v.em_admitted.sum()),
        monthly=_sum("emergency_admissions"),
    ),
    _system(
        "admissions_avoided", "admissions avoided", "patients", "demand",
        "emergencies diverted to step-up care (a place was free)",
        lambda v: float((v.arrived & (v.out == AVOIDED)).sum()),
        monthly=_sum("admissions_avoided"),
    ),
    _system(
        "refused_admissions", "refused admissions", "patients", "waits",
        "emergencies refused for lack of a bed (`when_full: refuse`)",
        lambda v: float(v.refused),
        monthly=_sum("refused_admissions"),
    ),
    _system(
        "p_refused", "share refused", "share 0–1", "waits",
        f"refused / {_NEEDING}",
        lambda v: ratio(v.refused, v.n_need),
    ),
    _system(
        "transferred_out", "transferred out", "patients", "waits",
        "emergencies transferred elsewhere after waiting `acute.max_wait_hours`",
        lambda v: float((v.needing & (v.out == TRANSFERRED)).sum()),
    ),
    _system(
        "p_transferred_out", "share transferred out", "share 0–1", "waits",
        f"transferred out / {_NEEDING}",
        lambda v: ratio((v.needing & (v.out == TRANSFERRED)).sum(), v.n_need),
    ),
    _system(
        "transferred_out_per_1000", "transferred out per 1,000", "per 1,000", "waits",
        f"1,000 × transferred out / {_NEEDING}",
        lambda v: 1000 * ratio((v.needing & (v.out == TRANSFERRED)).sum(), v.n_need),
    ),
    _system(
        "elective_referrals", "elective referrals", "patients", "electives",
        "referrals added to the elective waiting list in the window",
        lambda v: float((v.m.elective & v.arrived).sum()),
        present=_has_electives,
        not_for_verdicts="it is the demand put into the model, not an outcome of the plan",
    ),
    _system(
        "elective_admissions", "elective admissions", "patients", "electives",
        "electives admitted",
        lambda v: v.m.electives_admitted_in_window,
    ),
    _system(
        "elective_cancellations", "elective cancellations", "cancellations", "electives",
        "booked elective admissions cancelled (no free bed, or emergencies waiting); the patient goes back to "
        "the top of the list, and each cancellation counts",
        lambda v: v.elective_booked[0],
        monthly=_sum("elective_cancellations"),
    ),
    _system(
        "elective_cancellations_per_1000_booked", "cancellations per 1,000 booked", "per 1,000", "electives",
        "1,000 × cancellations / booked admissions (admitted + cancelled)",
        lambda v: 1000 * ratio(*v.elective_booked),
        monthly=Monthly("ratio", "elective_cancellations", "elective_booked", 1000.0),
        present=_has_electives,
    ),
    _system(
        "elective_waiting_list_mean", "mean elective waiting list", "patients", "electives",
        "patients on the waiting list (referred, not yet admitted; booked included), mean over the window's "
        "midnights",
        lambda v: float(v.m.waiting_list[v.w].mean()),
        monthly=_mean("elective_waiting_list"),
        present=_has_electives,
    ),
    _system(
        "elective_waiting_list_end", "elective waiting list at the end", "patients", "electives",
        "patients on the waiting list at the window's last midnight",
        lambda v: float(v.m.waiting_list[v.w][-1]),
        present=_has_electives,
    ),
    _system(
        "elective_wait_weeks_median", "median wait on the list", "weeks", "electives",
        "median time waited so far by the patients on the list (incomplete pathways), pooled over the "
        "window's midnights (n/a if the list was always empty)",
        _list_quantile_weeks(0.5),
        present=_has_electives,
    ),
    _system(
        "elective_wait_weeks_p92", "92nd percentile wait on the list", "weeks", "electives",
        "92nd percentile of the same waits: the 18-week RTT standard is met when it is at most 18",
        _list_quantile_weeks(0.92),
        present=_has_electives,
    ),
    _system(
        "share_waiting_over_18_weeks", "share of the list waiting over 18 weeks", "share 0–1", "electives",
        "patients on the list waiting over 18 weeks / patients on the list, pooled over the window's midnights "
        "(0 if the list was always empty); 1 − this is 18-week RTT performance",
        lambda v: v.share_waiting_over(18),
        monthly=Monthly("ratio", "elective_waiting_over_18_weeks", "elective_waiting_list"),
        present=_has_electives,
    ),
    _system(
        "share_waiting_over_52_weeks", "share of the list waiting over 52 weeks", "share 0–1", "electives",
        "as `share_waiting_over_18_weeks`, over 52 weeks",
        lambda v: v.share_waiting_over(52),
        monthly=Monthly("ratio", "elective_waiting_over_52_weeks", "elective_waiting_list"),
        present=_has_electives,
    ),
    _system(
        "mean_occupied_beds", "mean occupied beds", "beds", "beds",
        "time-weighted mean of occupied acute beds",
        lambda v: v.bed_days / v.days,
        monthly=_mean("occupied_beds_mean"),
    ),
    _system(
        "mean_occupancy", "mean occupancy", "share 0–1", "beds",
        "occupied bed days / available bed days (core + open escalation)",
        lambda v: ratio(v.bed_days, v.cap.sum()),
        monthly=Monthly("ratio", "occupied_beds_mean", "beds_capacity"),
    ),
    _system(
        "share_days_over_85pct", "days over 85% occupancy", "share of days 0–1", "beds",
        "days whose time-weighted occupancy was above 85%",
        lambda v: float(np.mean(v.occupancy_daily > 0.85)),
        monthly=Monthly("share_above", "occupancy_day", level=0.85),
    ),
    _system(
        "share_days_over_92pct", "days over 92% occupancy", "share of days 0–1", "beds",
        "days whose time-weighted occupancy was above 92%",
        lambda v: float(np.mean(v.occupancy_daily > 0.92)),
        monthly=Monthly("share_above", "occupancy_day", level=0.92),
    ),
    _system(
        "share_days_full", "days full", "share of days 0–1", "beds",
        "days on which every available bed was occupied at some moment",
        lambda v: float(np.mean(v.m.occupied.max[v.w] >= v.cap)),
    ),
    _system(
        "share_days_no_bed", "days with no bed", "share of days 0–1", "waits",
        "days on which at least one emergency found no free bed (waited or refused)",
        lambda v: v.no_bed_days.size / v.days,
    ),
    _system(
        "p_wait_for_bed", "share waiting for a bed", "share 0–1", "waits",
        f"{_NEEDING} who waited for one (> 0 h)",
        lambda v: mean_or_nan(v.waits > WAIT_TOLERANCE_DAYS),
    ),
    _system(
        "mean_wait_hours", "mean wait for a bed", "hours", "waits",
        f"mean wait for a bed over {_NEEDING} (zeros included; a transferred patient's wait is `max_wait_hours`)",
        lambda v: float(v.waits.mean() * HOURS) if v.n_need else NAN,
    ),
    _system(
        "p_wait_over_4h", "share waiting over 4 h", "share 0–1", "waits",
        f"{_NEEDING} who waited over 4 hours",
        lambda v: mean_or_nan(v.waits > 4 / HOURS),
        monthly=_needing_bed("waits_over_4h"),
    ),
    _system(
        "waits_over_12h_per_1000", "waits over 12 h per 1,000", "per 1,000", "waits",
        f"waits over 12 hours per 1,000 {_NEEDING}",
        lambda v: 1000 * ratio((v.waits > 12 / HOURS).sum(), v.n_need),
        monthly=_needing_bed("waits_over_12h", 1000.0),
    ),
    _system(
        "mean_boarding_patients", "mean patients waiting for a bed", "patients", "waits",
        "time-weighted mean number waiting for a bed (ED boarding)",
        lambda v: float(v.m.boarding.mean[v.w].mean()),
        monthly=_mean("boarding_queue_mean"),
    ),
    _system(
        "acute_bed_days", "acute bed days", "bed days", "beds",
        "occupied acute bed days in the window",
        lambda v: v.bed_days,
        monthly=_sum("occupied_beds_mean"),
    ),
    _system(
        "displaced_bed_days", "displaced bed days", "bed days", "beds",
        "acute bed days the patients turned away in the window would have needed (transferred elsewhere, "
        "refused): each one's own drawn time to medically fit, counted on the day turned away (a delayed "
        "transfer their pathway would have met is not included; a cancelled elective is not turned away: "
        "it stays on the waiting list)",
        lambda v: v.displaced_days,
        monthly=_sum("displaced_bed_days"),
    ),
    _system(
        "bed_days_demanded", "acute bed days demanded", "bed days", "beds",
        "acute bed days used here + displaced bed days: the demand for beds, which turning patients away "
        "does not reduce",
        lambda v: v.bed_days + v.displaced_days,
        monthly=_sum("bed_days_demanded"),
    ),
    _system(
        "delayed_bed_days", "delayed bed days", "bed days", "delays",
        "bed days of patients medically fit but waiting for a community place",
        lambda v: v.delayed_days,
        monthly=_sum("delayed_patients_mean"),
    ),
    _system(
        "community_delayed_bed_days", "community delayed place days", "place days", "delays",
        "place days in community services of patients who have finished their stay there and wait to move on "
        "(the receiving service's assessment, or a place there): delayed transfers out of community services "
        "(only with onward pathways)",
        lambda v: v.community_delayed_days,
        present=_has_onward_routes,
    ),
    _system(
        "delayed_share", "delayed share of bed days", "share 0–1", "delays",
        "delayed / acute bed days",
        lambda v: ratio(v.delayed_days, v.bed_days),
    ),
    _system(
        "mean_delayed_patients", "mean delayed patients", "patients", "delays",
        "time-weighted mean number of delayed-transfer patients",
        lambda v: v.delayed_days / v.days,
        monthly=_mean("delayed_patients_mean"),
    ),
    _system(
        "mean_escalation_beds_in_use", "mean escalation beds in use", "beds", "beds",
        "time-weighted mean of occupied beds above the core capacity",
        lambda v: float(v.m.escalation_in_use[v.w].mean()),
    ),
    _system(
        "mean_emergency_los_days", "mean emergency length of stay", "days", "beds",
        "emergency bed days / emergency admissions (Little's law; delays included)",
        lambda v: ratio(v.em_bed_days, v.em_admitted.sum()),
    ),
    _system(
        "same_day_discharge_share", "same-day discharges", "share 0–1", "beds",
        "emergency admissions leaving on the calendar day of admission",
        lambda v: mean_or_nan(v.same_day),
    ),
    _system(
        "long_stay_bed_share", "long-stay share of bed days", "share 0–1", "beds",
        "share of occupied bed days held by patients past day 21 of their stay",
        lambda v: ratio(v.m.long_stay[v.w].sum(), v.bed_days),
    ),
    _system(
        "emergency_bed_share", "emergency share of bed days", "share 0–1", "beds",
        "share of occupied bed days held by emergency patients",
        lambda v: ratio(v.em_bed_days, v.bed_days),
    ),
    _system(
        "mean_occupancy_winter", "mean occupancy, winter", "share 0–1", "beds",
        "`mean_occupancy` over December–February days (n/a if none)",
        lambda v: v.occupancy_in((12, 1, 2)),
    ),
    _system(
        "mean_occupancy_summer", "mean occupancy, summer", "share 0–1", "beds",
        "`mean_occupancy` over June–August days (n/a if none)",
        lambda v: v.occupancy_in((6, 7, 8)),
    ),
    _gate(
        "gate_{gate}_opened", "gate on {gate} opened", "0/1",
        "the gate on schedule P (path with `_` for `.`) opened during the run",
        lambda g: float(g.day is not None),
    ),
    _gate(
        "gate_{gate}_open_day", "gate on {gate}: day opened", "day number",
        "the day it opened (n/a if it did not)",
        lambda g: NAN if g.day is None else float(g.day),
        not_for_verdicts="it is n/a when the gate never opens; test `gate_P_opened` instead",
    ),
    _system(
        "delayed_cost_gbp", "cost of delayed bed days", "£", "costs",
        "delayed bed days × `acute.delayed_day_cost_gbp` (if given)",
        _delayed_cost_gbp,
        present=_delayed_cost,
    ),
    _service(
        "{service}_mean_occupied", "{service}: mean occupied places", "places", "services",
        "time-weighted mean of occupied places",
        lambda s: float(s.occupied.mean()),
    ),
    _service(
        "{service}_utilisation", "{service}: utilisation", "share 0–1", "services",
        "occupied place days / available place days (not for `capacity: unlimited`)",
        lambda s: ratio(s.occupied.sum(), s.places.sum()),
        present=_limited,
    ),
    _service(
        "{service}_mean_blocked", "{service}: mean blocked patients", "patients", "services",
        "time-weighted mean of patients who have finished their stay in S and still hold its place, waiting "
        "for the next service's assessment or a place there (only if S has onward pathways)",
        lambda s: float(s.blocked.mean()),
        present=_routes_onward,
    ),
    _service(
        "{service}_blocked_share", "{service}: blocked share of places", "share 0–1", "services",
        "blocked place days / available place days (only if S has onward pathways and a capacity limit)",
        lambda s: ratio(s.blocked.sum(), s.places.sum()),
        present=lambda cfg, name: _routes_onward(cfg, name) and _limited(cfg, name),
    ),
    _service(
        "{service}_p_wait", "{service}: share waiting", "share 0–1", "services",
        "share of transfers into S (from an acute bed or another service; referred in the window) that waited "
        "for a place once ready; for a `step_up` kind of service, share of suitable emergencies admitted "
        "instead because it was full",
        lambda s: s.p_wait,
    ),
    _service(
        "{service}_mean_wait_days", "{service}: mean wait for a place", "days", "services",
        "mean wait for a place in S once ready to transfer, in the sender's place (acute bed or another "
        "service; zeros included; 0 for a `step_up` kind of service)",
        lambda s: s.mean_wait,
    ),
    _service(
        "{service}_mean_delay_days", "{service}: mean delay", "days", "services",
        "mean time from the end of the stay in the sender's place (medically fit, or the end of a community "
        "stay) to the transfer into S (assessment + wait for a place)",
        lambda s: s.mean_delay,
    ),
    _service(
        "{service}_capacity_cost_gbp", "{service}: capacity cost", "£", "costs",
        "service S: place days × `place_day_cost_gbp` (if given)",
        _capacity_cost_gbp,
        present=_place_cost,
    ),
)  # fmt: skip

# Column order of the monthly table. It predates the registry and results are compared bit for
# bit with those recorded before, so it stays; every KPI with a monthly form is here once
# (checked on import).
MONTHLY_ORDER = (
    "acute_bed_days",
    "delayed_bed_days",
    "mean_occupied_beds",
    "mean_delayed_patients",
    "mean_boarding_patients",
    "mean_occupancy",
    "waits_over_12h_per_1000",
    "p_wait_over_4h",
    "emergency_admissions",
    "admissions_avoided",
    "elective_cancellations",
    "refused_admissions",
    "share_days_over_85pct",
    "share_days_over_92pct",
    "displaced_bed_days",
    "bed_days_demanded",
    "elective_cancellations_per_1000_booked",
    "elective_waiting_list_mean",
    "share_waiting_over_18_weeks",
    "share_waiting_over_52_weeks",
)

_BY_NAME: dict[str, Kpi] = {k.name: k for k in KPIS}
# Consecutive entries of one scope, expanded subject by subject.
_BLOCKS: tuple[tuple[Scope, tuple[Kpi, ...]], ...] = tuple(
    (scope, tuple(block)) for scope, block in itertools.groupby(KPIS, key=lambda k: k.scope)
)
# Template name -> regex with the subject as a group; longest literal part first (most specific).
_TEMPLATES: tuple[tuple[re.Pattern[str], Kpi], ...] = tuple(
    sorted(
        (
            (re.compile(re.escape(k.name).replace(re.escape("{" + PLACEHOLDER[k.scope] + "}"), "(.+)") + r"\Z"), k)
            for k in KPIS
            if k.scope != "system"
        ),
        key=lambda pk: -len(pk[1].name),
    )
)


def problems(kpis: Sequence[Kpi] = KPIS, monthly_order: Sequence[str] = MONTHLY_ORDER) -> list[str]:
    """What is wrong with a registry (empty when nothing is): duplicate names, missing texts,
    templates without their placeholder, unknown groups, monthly forms out of the monthly order."""
    out = []
    names = [k.name for k in kpis]
    out += [f"{n}: defined more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    for k in kpis:
        if not (k.label.strip() and k.unit.strip() and k.description.strip()):
            out.append(f"{k.name}: label, unit and description must not be empty")
        if "\n" in k.description or "|" in k.description:
            out.append(f"{k.name}: the description must be one line without '|' (it is a table cell)")
        if k.group not in GROUPS:
            out.append(f"{k.name}: unknown group {k.group!r}")
        marker = "{" + PLACEHOLDER[k.scope] + "}" if k.scope != "system" else None
        if (marker is None and "{" in k.name) or (marker is not None and marker not in k.name):
            out.append(
                f"{k.name}: a {k.scope} KPI's name must {'not ' if marker is None else ''}hold {marker or '{…}'}"
            )
        if k.monthly is not None and k.scope != "system":
            out.append(f"{k.name}: only system KPIs have a monthly form")
        if not k.verdict and not (k.not_for_verdicts or "").strip():
            out.append(f"{k.name}: say why it is not for verdicts")
    with_monthly = [k.name for k in kpis if k.monthly is not None]
    if sorted(with_monthly) != sorted(monthly_order):
        out.append(
            f"the monthly order {list(monthly_order)} does not list each KPI with a monthly form once: {with_monthly}"
        )
    return out


def _check() -> None:
    found = problems()
    if found:
        raise RuntimeError("KPI registry: " + "; ".join(found))


_check()


# ---------------------------------------------------------------------------------------------
# Reading the registry


def gate_key(path: str) -> str:
    """The subject of a gate's KPIs: its schedule's dotted path with ``_`` for ``.``."""
    return path.replace(".", "_")


def layout(cfg: Config, gates: Sequence[str], services: Sequence[str]) -> Iterator[tuple[str, Kpi, int]]:
    """Every KPI a run produces, in output order: (name, definition, index of its subject in
    ``gates`` or ``services``; 0 for system KPIs). ``gates`` are gate keys, ``services`` names."""
    subjects: dict[Scope, Sequence[str]] = {"system": ("",), "gate": gates, "service": services}
    for scope, block in _BLOCKS:
        for i, subject in enumerate(subjects[scope]):
            for kpi in block:
                if kpi.exists(cfg, subject):
                    yield kpi.name_for(subject), kpi, i


def for_config(cfg: Config) -> dict[str, KpiRef]:
    """The KPIs a config produces, in output order (without running it), each with its definition
    and the service or gate it is for."""
    from ..config import gated_schedules

    subjects: dict[Scope, list[str]] = {
        "system": [""],
        "gate": [gate_key(path) for path, _ in gated_schedules(cfg)],
        "service": list(cfg.services),
    }
    return {
        name: KpiRef(name, kpi, None if kpi.scope == "system" else subjects[kpi.scope][i])
        for name, kpi, i in layout(cfg, subjects["gate"], subjects["service"])
    }


def names(cfg: Config) -> list[str]:
    """The KPI names a config produces, in output order (without running it)."""
    return list(for_config(cfg))


def evaluate(
    cfg: Config,
    window: WindowMeasures,
    gates: Sequence[tuple[str, GateMeasures]],
    services: Sequence[tuple[str, ServiceMeasures]],
) -> dict[str, float]:
    """Every KPI of one replication, in output order, from its measures (``gates`` and
    ``services`` as (key or name, measures) pairs)."""
    measures: dict[Scope, Sequence[Any]] = {
        "system": (window,),
        "gate": [g for _, g in gates],
        "service": [s for _, s in services],
    }
    return {
        name: kpi.compute(measures[kpi.scope][i])
        for name, kpi, i in layout(cfg, [k for k, _ in gates], [n for n, _ in services])
    }


def get(name: str) -> KpiRef:
    """The definition of a KPI name; per-service and per-gate names resolve to their template
    (``home_support_utilisation`` -> ``{service}_utilisation`` for ``home_support``). With a
    config at hand, :func:`for_config` resolves its names exactly.

    Raises :class:`UnknownKpiError` (a ``KeyError``) naming close matches."""
    if name in _BY_NAME and _BY_NAME[name].scope == "system":
        return KpiRef(name, _BY_NAME[name], None)
    for pattern, kpi in _TEMPLATES:
        match = pattern.match(name)
        if match:
            return KpiRef(name, kpi, match.group(1))
    known = [k.display_name for k in KPIS]
    raise UnknownKpiError(f"unknown KPI {name!r}{did_you_mean(name, known)}")


def find(name: str) -> KpiRef | None:
    """The definition of a KPI name, or None when this version does not know it (results written
    by another version of hospsim)."""
    try:
        return get(name)
    except UnknownKpiError:
        return None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'a' or 'b'? 67 KPIs: see ...)``: the names in ``known`` close to ``name``,
    and the valid names or where to read them (:func:`hospsim.config.errors.did_you_mean`)."""
    return errors.did_you_mean(name, known, "KPIs", see="see the KPI dictionary in the README")


def monthly_forms() -> list[tuple[str, Monthly]]:
    """(name, monthly form) of every KPI that has one, in the monthly table's column order."""
    forms = {k.name: k.monthly for k in KPIS if k.monthly is not None}
    return [(name, forms[name]) for name in MONTHLY_ORDER]


def by_group() -> dict[str, list[Kpi]]:
    """The KPIs of each group (in :data:`GROUPS` order), in output order within a group."""
    return {g: [k for k in KPIS if k.group == g] for g in GROUPS}
