"""Small networks of bed pools as exact CTMCs (``hospsim.analysis.network_ctmc``) and as hospsim
configs, and the KPIs whose steady-state values the CTMC gives exactly.

A CTMC :class:`Network` maps to a hospsim config when one node (the acute hospital) has Poisson
arrivals that are refused when it is full and every other node is a community service of kind
``discharge`` that only other nodes send patients to. Stays and assessments are exponential;
there is no weekday, hourly or winter pattern, no growth and no electives, so hospsim's arrivals
are the CTMC's Poisson stream. CTMC ``exit`` is hospsim's ``home`` pathway; a node's
``assessment_rate`` is its service's ``assessment`` (mean ``1 / rate`` days), spent in the
sender's place in both.

KPI map (hospsim name: CTMC measure, of the node named in the table of the report):

* ``p_refused``: the acute node's ``p_refused`` (Poisson arrivals see the time average).
* ``mean_occupied_beds``: acute ``mean_occupied`` (in their stay, assessed or waiting for a place).
* ``mean_delayed_patients``: acute ``mean_blocked`` (fit, still in the bed).
* per service ``S``: ``S_mean_occupied``, ``S_mean_blocked``, ``S_p_wait``, ``S_mean_wait_days``
  (the CTMC's same-named measures) and ``S_mean_delay_days`` (wait plus the mean assessment).
* ``community_delayed_bed_days``: the services' ``mean_blocked`` summed, times the window's days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from conftest import queue_config

from hospsim.analysis.network_ctmc import EXIT, Network, NetworkResult, Node
from hospsim.config import Config
from hospsim.model.kpi_registry import WAIT_TOLERANCE_DAYS
from hospsim.model.monitor import daily_level
from hospsim.model.records import Replication

HOME = "home"
UNLIMITED = "unlimited"


def exponential(mean_days: float) -> dict[str, object]:
    """An exponential LOS or assessment of ``mean_days`` days, as a config distribution."""
    return {"dist": "exponential", "mean_days": mean_days}


def acute_node(net: Network) -> Node:
    """The node with the external arrivals: hospsim's acute hospital."""
    names = {a.node for a in net.arrivals}
    if len(names) != 1 or net.saturated is not None or net.when_full != "refuse":
        raise ValueError("a hospsim network has Poisson arrivals refused when full, into one node only")
    (node,) = [n for n in net.nodes if n.name in names]
    if node.assessment_rate is not None or any(node.name in n.routing for n in net.nodes):
        raise ValueError(f"node {node.name!r}: the acute hospital receives no transfers")
    return node


def services(net: Network) -> tuple[Node, ...]:
    """The other nodes: community services, in the config's order."""
    acute = acute_node(net)
    return tuple(n for n in net.nodes if n is not acute)


def _pathways(routing: Mapping[str, float]) -> dict[str, float]:
    return {(HOME if dest == EXIT else dest): share for dest, share in routing.items() if share > 0}


def _service(node: Node, unlimited: bool) -> dict[str, object]:
    raw: dict[str, object] = {
        "kind": "discharge",
        "capacity": UNLIMITED if unlimited else node.servers,
        "los": exponential(1 / node.los_rate),
    }
    if node.assessment_rate is not None:
        raw["assessment"] = exponential(1 / node.assessment_rate)
    pathways = _pathways(node.routing)
    if pathways != {HOME: 1.0}:  # the default; a service that sends everyone home needs no key
        raw["pathways"] = pathways
    return raw


def network_config(
    net: Network,
    *,
    measured_days: int,
    warmup_days: int,
    replications: int,
    seed: int,
    unlimited: frozenset[str] = frozenset(),
) -> Config:
    """hospsim's config of ``net``: the arrival node is the acute hospital (``when_full:
    refuse``), every other node a ``discharge`` service; those named in ``unlimited`` get
    ``capacity: unlimited`` instead of their servers."""
    acute = acute_node(net)
    (arrival,) = net.arrivals
    mean_los = exponential(1 / acute.los_rate)
    return queue_config(
        acute.servers,
        arrival.rate_per_day,
        mean_los,
        when_full="refuse",
        horizon_days=warmup_days + measured_days,
        warmup_days=warmup_days,
        replications=replications,
        seed=seed,
        groups={"all": {"share": 1.0, "los": mean_los, "pathways": _pathways(acute.routing)}},
        services={n.name: _service(n, n.name in unlimited) for n in services(net)},
    )


@dataclass(frozen=True)
class Exact:
    """One KPI's exact steady-state value, and what it is measured in (for the tolerances)."""

    kpi: str
    node: str
    value: float
    unit: str  # "places", "share" or "days"


def exact_kpis(net: Network, res: NetworkResult, measured_days: int) -> list[Exact]:
    """The hospsim KPIs that ``res`` (the CTMC solution of ``net``) gives exactly (module docstring)."""
    acute = res[acute_node(net).name]
    out = [
        Exact("p_refused", acute.name, acute.p_refused, "share"),
        Exact("mean_occupied_beds", acute.name, acute.mean_occupied, "places"),
        Exact("mean_delayed_patients", acute.name, acute.mean_blocked, "places"),
    ]
    for node in services(net):
        r = res[node.name]
        assessment_days = 0.0 if node.assessment_rate is None else 1 / node.assessment_rate
        out += [
            Exact(f"{node.name}_mean_occupied", node.name, r.mean_occupied, "places"),
            Exact(f"{node.name}_mean_blocked", node.name, r.mean_blocked, "places"),
            Exact(f"{node.name}_p_wait", node.name, r.p_wait, "share"),
            Exact(f"{node.name}_mean_wait_days", node.name, r.mean_wait_days, "days"),
            Exact(f"{node.name}_mean_delay_days", node.name, r.mean_wait_days + assessment_days, "days"),
        ]
    blocked = math.fsum(res[n.name].mean_blocked for n in services(net))
    out.append(Exact("community_delayed_bed_days", "all services", blocked * measured_days, "place-days"))
    return out


def visit_kpis(cfg: Config, rep: Replication) -> dict[str, float]:
    """The service KPIs of ``exact_kpis`` read straight from the engine's community visits
    (``Records.visits``), by the issue's definitions, over the window warm-up .. horizon:
    occupied from moving in to leaving the place, blocked from the end of the stay to leaving,
    waits (start - ready, censored at the horizon) and delays (start - referred) of the visits
    referred in the window. Independent of the KPI layer, so the engine is checked on its own."""
    v, H, lo = rep.records.visits, cfg.horizon_days, cfg.warmup_days
    out: dict[str, float] = {}
    blocked_days = 0.0
    for si, name in enumerate(cfg.services):
        mine = v.service == si
        occupied = daily_level(np.where(mine, v.start_days, np.nan), v.leave_days, H).mean[lo:H]
        blocked = daily_level(np.where(mine, v.stay_end_days, np.nan), v.leave_days, H).mean[lo:H]
        referred = mine & (v.referred_days >= lo) & (v.referred_days < H)
        start = np.where(np.isnan(v.start_days), float(H), v.start_days)[referred]
        ready = np.where(np.isnan(v.ready_days[referred]), start, v.ready_days[referred])
        wait = start - ready
        out[f"{name}_mean_occupied"] = float(occupied.mean())
        out[f"{name}_mean_blocked"] = float(blocked.mean())
        out[f"{name}_p_wait"] = float(np.mean(wait > WAIT_TOLERANCE_DAYS))
        out[f"{name}_mean_wait_days"] = float(wait.mean())
        out[f"{name}_mean_delay_days"] = float(np.mean(start - v.referred_days[referred]))
        blocked_days += float(blocked.sum())
    out["community_delayed_bed_days"] = blocked_days
    return out
