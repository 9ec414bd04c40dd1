"""The patient pathway a config describes, as the figures and the report show it: the community
services in the order patients reach them (acute's destinations first, then theirs), where each
place sends its patients next (shares at the start, and after a plan's change of the mix), in
words ("home 60%, home care 25%, care home 15%").

Only configs with onward routes between services have a chain to show; for the others every
service is one step from acute and the order is the config's, so their figures are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import HOME, Config, PathwayChange
from .labels import Labels, percent

ACUTE = "acute"  # the acute beds, the first place of the pathway


@dataclass(frozen=True)
class Route:
    """Patients going from ``source`` (``acute`` or a service) to ``target`` (``home`` or a
    service): their share of those leaving ``source`` at the start, and after the plan's change
    of the mix (None: the mix does not change). ``on_arrival``: diverted to a step-up service on
    arrival, instead of an acute bed (no share: that depends on free places)."""

    source: str
    target: str
    share: float
    share_after: float | None = None
    on_arrival: bool = False


def _mix_routes(source: str, mixes: list[tuple[float, Mapping[str, float], PathwayChange | None]]) -> list[Route]:
    """Routes out of ``source`` from its mixes, each with its weight (the groups' shares of
    emergencies for acute; one mix of weight 1 for a service)."""
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    changed = False
    for weight, mix, change in mixes:
        for d, p in mix.items():
            before[d] = before.get(d, 0.0) + weight * p
        final = change.to if change is not None else mix
        changed = changed or change is not None
        for d, p in final.items():
            after[d] = after.get(d, 0.0) + weight * p
    ordered = list(dict.fromkeys([*before, *after]))  # as the config writes the mix
    return [
        Route(
            source,
            d,
            before.get(d, 0.0),
            after.get(d, 0.0) if changed and after.get(d, 0.0) != before.get(d, 0.0) else None,
        )
        for d in ordered
    ]


def acute_routes(cfg: Config) -> list[Route]:
    """Where emergency patients go from an acute bed: the groups' pathway mixes weighted by
    their shares of emergencies; then the step-up services, which take patients on arrival."""
    routes = _mix_routes(ACUTE, [(g.share, g.pathways, g.pathways_change) for g in cfg.groups.values()])
    step_up = [
        Route(ACUTE, n, 0.0, on_arrival=True) for n, s in cfg.services.items() if s.service_kind.diverts_arrivals
    ]
    return [*step_up, *routes]


def service_routes(cfg: Config, name: str) -> list[Route]:
    """Where patients go at the end of their stay in service ``name``."""
    svc = cfg.services[name]
    return _mix_routes(name, [(1.0, svc.pathways, svc.pathways_change)])


def sends_on(service: Mapping[str, Any] | None) -> bool:
    """Does a service as written in a config (a results folder's manifest) send patients on to
    another service, now or after a plan's change? Read without validating the config."""
    svc = service or {}
    change = svc.get("pathways_change") or {}
    return any(d != HOME for d in {**(svc.get("pathways") or {}), **(change.get("to") or {})})


def any_sends_on(config: Mapping[str, Any]) -> bool:
    """Does any service of a config as written send patients on to another?"""
    return any(sends_on(s) for s in (config.get("services") or {}).values())


def pathway_steps(cfg: Config) -> dict[str, int]:
    """Each service's fewest transfers from acute (1: acute's destinations and the step-up
    services, which take patients on arrival; 2: theirs; ...); a service no route reaches
    counts as 1."""
    steps = {r.target: 1 for r in acute_routes(cfg) if r.target != HOME}
    frontier = list(steps)
    while frontier:
        nxt = []
        for src in frontier:
            for r in service_routes(cfg, src):
                if r.target != HOME and r.target not in steps:
                    steps[r.target] = steps[src] + 1
                    nxt.append(r.target)
        frontier = nxt
    return {n: steps.get(n, 1) for n in cfg.services}


def pathway_order(cfg: Config) -> list[str]:
    """The services in the order patients reach them: by :func:`pathway_steps`, ties in the
    config's order. Without onward routes this is the config's order."""
    steps = pathway_steps(cfg)
    names = list(cfg.services)
    return sorted(names, key=lambda n: (steps[n], names.index(n)))


def share_words(share: float) -> str:
    """A share of a mix as the config's description writes it: ``60%``, ``12.5%``."""
    return percent(share, 1 if round(1000 * share) % 10 else 0)


def place_words(name: str, labels: Labels) -> str:
    """A place in the middle of a sentence: ``home``, ``acute beds``, ``care home`` (or its label)."""
    if name == HOME:
        return "home"
    return labels.given.get(name) or ("acute beds" if name == ACUTE else name.replace("_", " "))


def route_share(route: Route) -> str:
    """A route's share: ``15%``, ``15% → 30%`` (after the plan's change), ``on arrival``."""
    if route.on_arrival:
        return "on arrival"
    after = "" if route.share_after is None else f" \u2192 {share_words(route.share_after)}"
    return f"{share_words(route.share)}{after}"


def route_words(route: Route, labels: Labels) -> str:
    """One route in words: ``care home 15%``, ``care home 15% → 30%`` (after the plan's change)."""
    name = place_words(route.target, labels)
    return f"{name} ({route_share(route)})" if route.on_arrival else f"{name} {route_share(route)}"


def onward_words(cfg: Config, name: str, labels: Labels) -> str:
    """Where service ``name`` sends its patients, e.g. ``home 60%, home care 25%, care home 15%``."""
    return ", ".join(route_words(r, labels) for r in service_routes(cfg, name))
