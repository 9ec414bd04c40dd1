"""The bundled stroke pathway (configs/stroke_pathway.yaml) and its experiment
(experiments/stroke_rehab.yaml): both validate, and a short run shows what they are for - a cut
in rehab capacity fills the acute stroke unit with patients waiting for rehab and then backs up
into the hyper-acute stroke unit (HASU) - with every patient accounted for on the way."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from hospsim.cli import main
from hospsim.config import Config, load_config, read_yaml
from hospsim.config.json_schema import json_schema
from hospsim.config.loading import copy_raw
from hospsim.model.engine import run_model
from hospsim.model.kpis import kpis
from hospsim.model.records import ADMITTED, FROM_ACUTE, Records, final_states
from hospsim.model.streams import replication_seeds

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "stroke_pathway.yaml"
EXPERIMENT = ROOT / "experiments" / "stroke_rehab.yaml"
SHORT = {"horizon_days": 540}  # the config's 180-day warm-up, then a year measured
REPS = 4
REHAB_BEDS = (26, 18, 12)  # today's rehab unit, a cut, a deep cut


def _time_mean(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> float:
    """Mean number of intervals [start, end) open over [lo, hi) (NaN start: never; NaN end: still open)."""
    s = np.where(np.isnan(start), np.inf, start)
    e = np.where(np.isnan(end), hi, end)
    return float(np.clip(np.minimum(e, hi) - np.maximum(s, lo), 0, None).sum() / (hi - lo))


def _measures(cfg: Config, rec: Records) -> dict[str, float]:
    """Time-average occupancy of the HASU and blocked patients along the chain, from the records."""
    lo, hi = cfg.warmup_days, cfg.horizon_days
    v = rec.visits
    out = {
        "hasu_occupied": _time_mean(rec.admit_days, rec.bed_leave_days, lo, hi),
        "hasu_delayed": _time_mean(rec.fit_days, rec.bed_leave_days, lo, hi),
    }
    for i, name in enumerate(cfg.services):
        mine = v.service == i
        out[f"{name}_occupied"] = _time_mean(v.start_days[mine], v.leave_days[mine], lo, hi)
        out[f"{name}_blocked"] = _time_mean(v.stay_end_days[mine], v.leave_days[mine], lo, hi)
    asu, rehab = list(cfg.services).index("asu"), list(cfg.services).index("rehab_unit")
    # Patients who finished their ASU stay, were ready for rehab and waited in the ASU bed for a place.
    into_rehab = (v.service == rehab) & (v.origin == asu)
    waited = v.start_days[into_rehab] - v.ready_days[into_rehab]
    out["asu_to_rehab_waited_share"] = float(np.mean(np.nan_to_num(waited, nan=np.inf) > 0))
    return out


@cache
def _runs(rehab_beds: int) -> tuple[Config, tuple[Records, ...], tuple[dict[str, float], ...]]:
    """The config, shortened, with ``rehab_beds`` rehab beds: REPS replications on the same seeds
    for every capacity (common random numbers: the same patients, with the same routes)."""
    cfg = load_config(CONFIG).with_overrides({**SHORT, "services.rehab_unit.capacity": rehab_beds})
    records = tuple(run_model(cfg, s).records for s in replication_seeds(cfg.seed, REPS))
    return cfg, records, tuple(_measures(cfg, r) for r in records)


def test_hospsims_kpis_are_these_measures_of_the_visits():
    """The experiment's criteria and report read hospsim's KPIs: they must be the blocked and
    occupied patients measured here, independently, from the visits."""
    cfg = load_config(CONFIG).with_overrides({**SHORT, "services.rehab_unit.capacity": REHAB_BEDS[1]})
    rep = run_model(cfg, replication_seeds(cfg.seed, 1)[0])
    k, m = kpis(cfg, rep), _measures(cfg, rep.records)
    pairs = {"mean_occupied_beds": "hasu_occupied", "mean_delayed_patients": "hasu_delayed"}
    for name in ("asu", "rehab_unit", "esd"):
        pairs |= {f"{name}_mean_occupied": f"{name}_occupied", f"{name}_mean_blocked": f"{name}_blocked"}
    for kpi, measure in pairs.items():
        assert k[kpi] == pytest.approx(m[measure], rel=1e-12), kpi
    assert m["asu_blocked"] > 5  # a cut: the comparison is not of zeros


def _mean(rehab_beds: int, key: str) -> float:
    return float(np.mean([m[key] for m in _runs(rehab_beds)[2]]))


def test_check_validates_the_config_and_every_cell_of_the_experiment(capsys):
    assert main(["check", str(CONFIG)]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"{CONFIG}: OK: stroke-pathway-1m: 910 days (warm-up 180), 3 patient groups, "
        "services: asu, rehab_unit, esd, home_care, care_home\n"
    )
    assert main(["check", str(EXPERIMENT)]) == 0
    out = capsys.readouterr().out
    assert "swept over 12 points of rehab_unit_beds, esd_caseload (grid) = 13 cells" in out
    assert "runs: 13 cells x 10 replications = 130 runs" in out


def test_the_config_and_the_experiment_are_valid_against_the_json_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    for kind, path in (("config", CONFIG), ("experiment", EXPERIMENT)):
        validator = jsonschema.Draft202012Validator(json_schema(kind))
        assert [e.message for e in validator.iter_errors(copy_raw(read_yaml(path)))] == [], path


def test_the_chain_runs_from_the_hasu_to_unlimited_home_care_and_care_homes():
    cfg = load_config(CONFIG)
    assert cfg.groups["stroke"].pathways == {"asu": 1.0}
    assert set(cfg.services["asu"].pathways) == {"home", "esd", "rehab_unit", "home_care", "care_home"}
    assert set(cfg.services["rehab_unit"].pathways) == {"home", "esd", "home_care", "care_home"}
    assert [n for n, s in cfg.services.items() if s.unlimited] == ["home_care", "care_home"]
    # Unlimited services are pure delays: their assessment holds the sender's place.
    assert all(cfg.services[n].assessment is not None for n in ("home_care", "care_home"))


def test_today_the_hasu_is_busy_but_workable_and_the_asu_holds_its_delays():
    hasu = _mean(26, "hasu_occupied") / 18
    assert 0.70 < hasu < 0.90, hasu
    # The ASU is ~85% full; about 5 of its patients have finished their stay and wait for an
    # assessment (home care, care home) or a place (rehab, ESD) - the delays the chain is about.
    assert 24 < _mean(26, "asu_occupied") < 30
    assert 3.5 < _mean(26, "asu_blocked") < 7.0
    assert _mean(26, "home_care_blocked") == 0 and _mean(26, "care_home_blocked") == 0


def test_cutting_rehab_beds_blocks_the_asu_and_then_the_hasu():
    """Same patients (common random numbers), fewer rehab beds: each stage back up the chain is
    worse on average, and most patients bound for rehab wait in their ASU bed at the deep cut."""
    asu_blocked = [_mean(b, "asu_blocked") for b in REHAB_BEDS]
    hasu_delayed = [_mean(b, "hasu_delayed") for b in REHAB_BEDS]
    hasu_occupied = [_mean(b, "hasu_occupied") for b in REHAB_BEDS]
    waited = [_mean(b, "asu_to_rehab_waited_share") for b in REHAB_BEDS]
    assert asu_blocked == sorted(asu_blocked) and asu_blocked[2] > asu_blocked[0] + 8, asu_blocked
    assert hasu_delayed == sorted(hasu_delayed) and hasu_delayed[2] > 2 * hasu_delayed[0], hasu_delayed
    assert hasu_occupied == sorted(hasu_occupied) and hasu_occupied[2] > 16, hasu_occupied
    assert waited[0] < 0.5 < 0.9 < waited[2], waited
    # The rehab unit itself is full, not blocked: the queue is in the ASU.
    assert _mean(12, "rehab_unit_occupied") > 11.9


def test_the_same_patients_arrive_whatever_the_rehab_capacity():
    first = _runs(REHAB_BEDS[0])[1]
    for beds in REHAB_BEDS[1:]:
        for a, b in zip(first, _runs(beds)[1], strict=True):
            assert a.outcome.size == b.outcome.size


@pytest.mark.parametrize("rehab_beds", [26, 12])
def test_nobody_vanishes_along_the_chain(rehab_beds: int):
    cfg, records, _ = _runs(rehab_beds)
    unlimited = [i for i, s in enumerate(cfg.services.values()) if s.unlimited]
    for rec in records:
        states = final_states(rec)  # raises unless every patient is in exactly one state
        assert sum(states.values()) == rec.outcome.size
        v = rec.visits
        # Times along each visit never go backwards.
        for earlier, later in (
            (v.referred_days, v.ready_days),
            (v.ready_days, v.start_days),
            (v.start_days, v.stay_end_days),
            (v.stay_end_days, v.leave_days),
        ):
            both = ~np.isnan(earlier) & ~np.isnan(later)
            assert np.all(earlier[both] <= later[both])
        # Each onward visit starts the moment its patient leaves the previous place, and a
        # first visit the moment the patient leaves its HASU bed.
        for k in range(1, int(v.depth.max()) + 1):
            nxt = np.flatnonzero((v.depth == k) & ~np.isnan(v.start_days))
            prev = {p: i for i, p in enumerate(v.patient) if v.depth[i] == k - 1}
            assert all(v.leave_days[prev[v.patient[j]]] == v.start_days[j] for j in nxt)
        first = (v.depth == 0) & (v.origin == FROM_ACUTE) & ~np.isnan(v.start_days)
        assert np.array_equal(rec.bed_leave_days[v.patient[first]], v.start_days[first])
        # Nobody waits for home care or a care home: ready means moved in.
        pure = np.isin(v.service, unlimited) & ~np.isnan(v.ready_days)
        assert np.array_equal(v.ready_days[pure], v.start_days[pure])
        # Everybody admitted to the HASU and still there is in it, not lost in a transfer.
        assert states["in an acute bed"] == int(np.sum((rec.outcome == ADMITTED) & np.isnan(rec.bed_leave_days)))


def test_the_figures_page_gives_the_configs_capacities_and_stays():
    """docs/stroke_pathway.md says where every figure came from: it must give the config's."""
    page = (ROOT / "docs" / "stroke_pathway.md").read_text(encoding="utf-8")
    cfg = load_config(CONFIG)
    assert f"`acute.beds: {cfg.acute.beds.initial_value():g}`" in page
    assert f"`demand.emergency.per_day: {cfg.demand.emergency.per_day:.1f}`" in page
    for name, svc in cfg.services.items():
        if not svc.unlimited:
            assert f"`capacity: {svc.places.initial_value():g}`" in page, name
        assert f"mean {svc.los.mean_days:.1f} d" in page, name
