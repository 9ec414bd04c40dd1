"""One replication with the compiled engine: build the state, run the kernel, and do in Python
what it stops for (gates that open, logs that fill up, later visits' numbers), then the records."""

from __future__ import annotations

import numpy as np

from ...config import Config
from ..cohort import Candidates, OnwardDraws
from ..engine import Engine, draw_for_run, engine_candidates, replication_from
from ..plan import GateBook, Levers, build_levers
from ..records import Replication
from . import kernel as k
from .state import CANCELLATION_LOG, State, grow_log, grow_visits, new_state, records, take_over, write_levers


def run_model_fast(cfg: Config, replication_seed: int) -> Replication:
    """Draw the patients, set up the plan and simulate one replication (compiled engine)."""
    return simulate_candidates_fast(cfg, draw_for_run(cfg, replication_seed))


def warm_up() -> None:
    """Two days of the default footprint: every compiled function loaded (or compiled)."""
    from ...config import default_config_path, load_config

    cfg = load_config(default_config_path())
    run_model_fast(cfg.model_copy(update={"horizon_days": 2, "warmup_days": 0}), 0)


def simulate_candidates_fast(cfg: Config, cand: Candidates) -> Replication:
    """As :func:`hospsim.model.engine.simulate_candidates`, with the same results, compiled."""
    levers, gates = build_levers(cfg)
    cand = engine_candidates(cfg, cand)
    book = GateBook(gates, cfg.horizon_days)
    st = new_state(cfg, cand, levers, gates)
    onward = LaterVisits(cfg, cand, levers)
    if cand.census is not None:
        # The census is placed by the reference engine's own code, then the kernel takes over.
        engine = Engine(cfg, cand, levers, gates)
        engine.start()
        st = take_over(st, engine)
        st = onward.for_census(st, cand)
        del engine
    else:
        k.start(st)
    st = _run(st, book, levers, onward)
    rec, resolved = records(st, book.opened, levels=cand.census is None)
    return replication_from(cfg, cand, levers, rec, resolved)


def _run(st: State, book: GateBook, levers: Levers, onward: LaterVisits) -> State:
    until = float(st.horizon_days)
    while True:
        status = k.run(st, until)
        if status == k.DONE:
            return st
        if status == k.GATES:
            _open_gates(st, book, levers)
        elif status == k.GROW_VISITS:
            st = grow_visits(st)
        elif status == k.GROW_CANCEL:
            st = grow_log(st, CANCELLATION_LOG)
        else:
            st = onward.draw(st, int(st.si[k.NEED_DEPTH]), int(st.si[k.NEED_SERVICE]))


def _open_gates(st: State, book: GateBook, levers: Levers) -> None:
    """The reference GateBook opens the gates due at the kernel's pending midnight (it decides,
    with the integrals the kernel kept); the kernel then reads the rewritten levers."""
    day = int(st.si[k.PENDING_MIDNIGHT])
    book.occupied_bed_days = st.occupied_bed_days.tolist()
    book.delayed_bed_days = st.delayed_bed_days.tolist()
    shut_before = len(book.shut)
    book.open_due(day, levers)
    if len(book.shut) != shut_before:
        for i, gate in enumerate(book.opened):
            st.gate_shut[i] = book.opened[gate] is None
        write_levers(st, levers)


class LaterVisits:
    """The numbers of later community visits (:class:`OnwardDraws`), put in the kernel's arrays
    as it first needs them: route uniforms by depth, stays and assessments by (depth, service)."""

    def __init__(self, cfg: Config, cand: Candidates, levers: Levers) -> None:
        self.draws = OnwardDraws(cfg, cand)
        self.n_services = len(cfg.services)
        # Every service a stay may route to (each route, now or after a plan's change).
        self.destinations = [sorted({d for d in dest if d >= 0}) for dest in levers.onward_service]

    def for_census(self, st: State, cand: Candidates) -> State:
        """Census patients waiting for their next service start there at depth 1."""
        assert cand.census is not None
        waiting_for = cand.census.waiting_for[cand.census.waiting_for >= 0]
        for s in np.unique(waiting_for).tolist():
            st = self._ensure_row(st, 1, s)
        return st

    def draw(self, st: State, depth: int, service: int) -> State:
        """What a stay ending at ``depth`` in ``service`` may need: the route out of it and every
        destination's stay and assessment at ``depth + 1``."""
        while st.route_u.shape[0] <= depth:
            row = self.draws.route(st.route_u.shape[0])
            st = st._replace(route_u=np.vstack([st.route_u, row[None, :]]))
        for dest in self.destinations[service]:
            st = self._ensure_row(st, depth + 1, dest)
        return st

    def _ensure_row(self, st: State, depth: int, service: int) -> State:
        row_of = st.row_of
        if row_of.shape[0] <= depth + 1:
            more = np.full((depth + 2 - row_of.shape[0], self.n_services), -1, dtype=np.int64)
            row_of = np.vstack([row_of, more])
        if row_of[depth, service] < 0:
            row_of[depth, service] = st.later_los.shape[0]
            los = self.draws.los_days(depth, service)[None, :]
            assessment = self.draws.assessment_days(depth, service)[None, :]
            st = st._replace(
                later_los=np.vstack([st.later_los, los]),
                later_assessment=np.vstack([st.later_assessment, assessment]),
            )
        return st._replace(row_of=row_of)
