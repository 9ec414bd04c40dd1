"""`--patients`: one row per patient who arrived, in `patients.parquet`, from which the KPIs can be
recomputed; written by `hospsim run` and `hospsim sweep`, checked by `hospsim reproduce`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hospsim.cli import main
from hospsim.config import load_config
from hospsim.model.engine import run_model
from hospsim.model.records import OUTCOME_NAMES
from hospsim.model.streams import replication_seeds
from hospsim.runs.errors import ResultsError
from hospsim.runs.experiment import load_experiment
from hospsim.runs.replications import patient_table, run_config
from hospsim.runs.reproduce import reproduce
from hospsim.runs.sweep import run_sweep

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "mini_system.yaml"
EXPERIMENT = DATA / "mini_experiment.yaml"
# The mini system made busier: electives (some cancelled), step-up places (some admissions
# avoided) and a bed cut (some emergencies wait, some are transferred).
BUSY = [
    "acute.beds={steps: [[0, 45], [150, 38]]}",
    "acute.max_wait_hours=12",
    "demand.elective={per_weekday: 4, referrals_per_week: 19, los: {dist: exponential, mean_days: 2}}",
    "groups.frail.step_up_share=0.3",
    "services.step_up.capacity=3",
]
COLUMNS = [
    "replication", "patient", "kind", "group", "priority", "arrival_days", "admit_days", "fit_days", "ready_days",
    "bed_leave_days", "service", "service_start_days", "service_end_days", "outcome", "times_cancelled",
    "cancelled_days", "acute_los_days", "step_up_suitable", "discharge_service", "visit_services",
    "visit_ready_days", "visit_start_days", "visit_stay_end_days", "visit_leave_days",
]  # fmt: skip
VISIT_TIMES = ["visit_ready_days", "visit_start_days", "visit_stay_end_days", "visit_leave_days"]
CHAIN = DATA / "mini_chain.yaml"  # acute -> rehab -> home / home care (unlimited) / care home


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory) -> Path:
    """`hospsim run --patients` of the busy mini system, 2 replications on 2 workers."""
    out = tmp_path_factory.mktemp("busy") / "out"
    sets = [a for s in BUSY for a in ("--set", s)]
    args = ["run", str(CONFIG), *sets, "-r", "2", "--seed", "11", "--workers", "2", "--patients"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    return out


def _overlap(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)


def test_one_row_per_patient_who_arrived():
    cfg = load_config(CONFIG, BUSY)
    rep = run_model(cfg, replication_seeds(11, 1)[0])
    table = patient_table(rep)
    assert len(table) == len(rep.cohort) > 1000
    assert table["patient"].tolist() == list(range(len(rep.cohort)))
    # Emergencies in arrival order, then electives in referral order.
    for k in ("emergency", "elective"):
        assert table.loc[table["kind"] == k, "arrival_days"].is_monotonic_increasing
    first_elective = int(np.argmax((table["kind"] == "elective").to_numpy()))
    assert (table["kind"].iloc[first_elective:] == "elective").all()
    assert (table["kind"].iloc[:first_elective] == "emergency").all()
    # Electives are in the group `elective`, emergencies in their own group.
    assert (table.loc[table["kind"] == "elective", "group"] == "elective").all()
    assert set(table.loc[table["kind"] == "emergency", "group"]) == {"frail", "other"}
    # Step-up is the service of every avoided patient; home discharges have no service.
    assert (table.loc[table["outcome"] == "avoided", "service"] == "step_up").all()
    assert table["discharge_service"].isna().sum() > 0
    assert "not_arrived" not in set(table["outcome"])


def test_outcome_names_cover_every_code():
    from hospsim.model import records

    codes = {
        v
        for k, v in vars(records).items()
        if k.isupper() and isinstance(v, int) and k != "OUTCOME_NAMES" and not k.startswith("FROM_")
    }
    assert codes == {0, 1, 2, 3, 4, 5, 6}
    assert set(OUTCOME_NAMES) == codes
    assert len(set(OUTCOME_NAMES.values())) == len(codes)
    assert OUTCOME_NAMES[records.TRANSFERRED] == "transferred"
    assert OUTCOME_NAMES[records.AVOIDED] == "avoided"


def test_run_writes_patients_with_the_cohort_size(busy_run):
    table = pd.read_parquet(busy_run / "patients.parquet")
    assert table.columns.tolist() == COLUMNS
    for col in ("kind", "group", "service", "outcome", "discharge_service"):
        assert isinstance(table[col].dtype, pd.CategoricalDtype), col
    cfg = load_config(CONFIG, [*BUSY, "replications=2", "seed=11"])
    sizes = [len(run_model(cfg, s).cohort) for s in replication_seeds(11, 2)]
    assert table.groupby("replication").size().tolist() == sizes
    manifest = json.loads((busy_run / "manifest.json").read_text())
    assert manifest["patients"] is True
    # Every outcome the busy system produces is there.
    assert {"admitted", "avoided", "transferred", "waiting_list"} <= set(table["outcome"])
    assert (table["times_cancelled"] > 0).any()
    # Each patient's cancellation times: as many as times cancelled, in order, before admission.
    counts = table["cancelled_days"].map(len)
    assert (counts == table["times_cancelled"]).all()
    cancelled = table[table["times_cancelled"] > 0]
    for days, admit in zip(cancelled["cancelled_days"], cancelled["admit_days"], strict=True):
        assert list(days) == sorted(days) and (np.isnan(admit) or days[-1] < admit)


def test_kpis_recomputed_from_patients_match(busy_run):
    cfg = load_config(CONFIG, BUSY)
    lo, hi, horizon = cfg.warmup_days, cfg.horizon_days, float(cfg.horizon_days)
    table = pd.read_parquet(busy_run / "patients.parquet")
    reps = pd.read_csv(busy_run / "replications.csv").set_index("replication")
    for r, p in table.groupby("replication"):
        emergency, out = p["kind"] == "emergency", p["outcome"]
        arrived = (p["arrival_days"] >= lo) & (p["arrival_days"] < hi)
        admitted_in = (p["admit_days"] >= lo) & (p["admit_days"] < hi)
        kpi = reps.loc[r]
        assert (emergency & arrived).sum() == kpi["emergency_arrivals"]
        assert (emergency & (out == "admitted") & admitted_in).sum() == kpi["emergency_admissions"]
        assert (arrived & (out == "avoided")).sum() == kpi["admissions_avoided"] > 0
        cancel_days = np.concatenate([np.asarray(d, dtype=float) for d in p["cancelled_days"]])
        assert ((cancel_days >= lo) & (cancel_days < hi)).sum() == kpi["elective_cancellations"] > 0
        assert ((p["kind"] == "elective") & (out == "admitted") & admitted_in).sum() == kpi["elective_admissions"]
        adm = p[out == "admitted"]
        leave = adm["bed_leave_days"].fillna(horizon).to_numpy()
        bed_days = _overlap(adm["admit_days"].to_numpy(), leave, lo, hi).sum()
        assert bed_days == pytest.approx(kpi["acute_bed_days"], rel=1e-6)
        fit = adm.dropna(subset=["fit_days"])
        delayed = _overlap(fit["fit_days"].to_numpy(), fit["bed_leave_days"].fillna(horizon).to_numpy(), lo, hi)
        assert delayed.sum() == pytest.approx(kpi["delayed_bed_days"], rel=1e-6)


def test_same_table_with_one_or_two_workers(busy_run):
    cfg = load_config(CONFIG, [*BUSY, "replications=2", "seed=11"])
    one = run_config(cfg, workers=1, patients=True)
    assert one.patients is not None
    serial = pd.concat(one.patients, ignore_index=True)
    pd.testing.assert_frame_equal(pd.read_parquet(busy_run / "patients.parquet"), serial)
    # Without --patients the workers send no patient table.
    assert run_config(cfg, workers=2).patients is None


def test_without_patients_no_file(tmp_path):
    out = tmp_path / "out"
    (out).mkdir()
    (out / "patients.parquet").write_bytes(b"an older run's")
    assert main(["run", str(CONFIG), "-r", "1", "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    assert not (out / "patients.parquet").exists()
    assert "patients" not in json.loads((out / "manifest.json").read_text())


def test_reproduce_checks_patients(busy_run, tmp_path):
    good = reproduce(busy_run, workers=1)
    assert good.ok, good.mismatches
    n_patients = len(pd.read_parquet(busy_run / "patients.parquet"))
    assert good.values_compared > n_patients * len(COLUMNS)
    # A tampered copy: one admission time moved by a millisecond of a day.
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in busy_run.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    table = pd.read_parquet(bad / "patients.parquet")
    table.loc[10, "admit_days"] += 1e-6
    table.to_parquet(bad / "patients.parquet", index=False)
    report = reproduce(bad, workers=1)
    assert not report.ok
    assert report.mismatches == ["patients admit_days: 1 values differ"]
    # A folder whose manifest promises patients but has none is refused.
    (bad / "patients.parquet").unlink()
    with pytest.raises(ResultsError, match=r"incomplete results folder: no patients\.parquet"):
        reproduce(bad, workers=1)


def test_sweep_writes_one_row_set_per_run(tmp_path):
    loaded = load_experiment(EXPERIMENT)
    out = tmp_path / "sweep"
    run_sweep(loaded, out, workers=2, patients=True)
    table = pd.read_parquet(out / "patients.parquet")
    assert table.columns.tolist()[:4] == ["run_id", "scenario", "point", "replication"]
    assert table.columns.tolist()[4:] == COLUMNS[1:]
    specs = loaded.runs()
    assert len(specs) == 27
    # Runs in run order, each with its cohort.
    ids = table["run_id"].astype(str)
    assert ids.drop_duplicates().tolist() == [s.run_id for s in specs]
    for spec in (specs[0], specs[13], specs[-1]):
        rows = table[ids == spec.run_id]
        assert len(rows) == len(run_model(spec.config, spec.seed).cohort)
        assert set(rows["scenario"].astype(str)) == {spec.scenario}
        assert set(rows["point"]) == {spec.point}
        assert set(rows["replication"]) == {spec.replication}
        assert rows["patient"].tolist() == list(range(len(rows)))
    # Every run recomputes its KPI from its rows: admissions avoided in the window.
    kpis = pd.read_parquet(out / "kpis.parquet").set_index("run_id")
    avoided = table[(table["outcome"] == "avoided") & (table["arrival_days"] >= 200) & (table["arrival_days"] < 300)]
    counts = avoided.groupby(avoided["run_id"].astype(str)).size()
    assert counts.reindex(kpis.index, fill_value=0).tolist() == kpis["admissions_avoided"].tolist()
    assert kpis["admissions_avoided"].sum() > 0
    assert json.loads((out / "manifest.json").read_text())["patients"] is True
    # The sweep's patient table re-runs exactly, run by run.
    report = reproduce(out, workers=1, sample=3)
    assert report.ok, report.mismatches
    assert report.checked == 3


def test_sweep_without_patients_writes_none(tmp_path):
    out = tmp_path / "sweep"
    run_sweep(load_experiment(EXPERIMENT), out, workers=1)
    assert not (out / "patients.parquet").exists()
    assert not list((out / "runs").glob("*.patients.parquet"))
    assert "patients" not in json.loads((out / "manifest.json").read_text())


def test_resume_with_patients_redoes_runs_without_them(tmp_path):
    loaded = load_experiment(EXPERIMENT)
    out = tmp_path / "sweep"
    run_sweep(loaded, out, workers=1)
    result = run_sweep(loaded, out, workers=1, resume=True, patients=True)
    # No finished run had its patient table, so every run was done again.
    assert result.runs_done_before == 0
    table = pd.read_parquet(out / "patients.parquet")
    assert table["run_id"].nunique() == 27
    assert len(list((out / "runs").glob("*.patients.parquet"))) == 27


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory) -> Path:
    """`hospsim run --patients` of the mini chain, 2 replications."""
    out = tmp_path_factory.mktemp("chain") / "out"
    args = ["run", str(CHAIN), "-r", "2", "--seed", "5", "--workers", "1", "--patients", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def _flat(p: pd.DataFrame, col: str) -> np.ndarray:
    return np.concatenate([np.asarray(x) for x in p[col]]) if len(p) else np.empty(0)


def test_visit_lists_are_the_records_visits_in_order():
    cfg = load_config(CHAIN)
    rep = run_model(cfg, replication_seeds(5, 1)[0])
    table = patient_table(rep)
    v, names = rep.records.visits, list(cfg.services)
    counts = table["visit_services"].map(len)
    assert counts.sum() == len(v) > 100
    assert (counts == np.bincount(v.patient, minlength=len(table))).all()
    assert (counts >= 2).sum() > 20  # onward transfers: rehab, then home care or a care home
    # Every visit in the patient's order: the first is the per-patient `service`, the next
    # starts where the previous one left.
    for i in np.flatnonzero(counts >= 2)[:50]:
        rows = np.flatnonzero(v.patient == i)
        assert table["visit_services"][i].tolist() == [names[s] for s in v.service[rows]]
        for col, field in zip(VISIT_TIMES, ["ready_days", "start_days", "stay_end_days", "leave_days"], strict=True):
            np.testing.assert_array_equal(table[col][i], getattr(v, field)[rows])
        assert table["visit_services"][i][0] == table["service"][i] == "rehab"
        assert table["visit_services"][i][1] in {"home_care", "care_home"}
        start, leave = table["visit_start_days"][i], table["visit_leave_days"][i]
        assert table["service_start_days"][i] == start[0]
        # service_end_days: when the patient left its first place (after any wait there).
        assert table["service_end_days"][i] == leave[0] == start[1]
        assert table["visit_stay_end_days"][i][0] <= leave[0]
    assert (table.loc[counts == 0, "service"].isna()).all()


def test_chain_kpis_recomputed_from_visit_lists(chain_run):
    cfg = load_config(CHAIN)
    lo, hi, horizon = cfg.warmup_days, cfg.horizon_days, float(cfg.horizon_days)
    table = pd.read_parquet(chain_run / "patients.parquet")
    assert table.columns.tolist() == COLUMNS
    reps = pd.read_csv(chain_run / "replications.csv").set_index("replication")
    for r, p in table.groupby("replication"):
        svc = _flat(p, "visit_services")
        start, stay_end, leave = (_flat(p, c) for c in VISIT_TIMES[1:])
        leave = np.where(np.isnan(leave), horizon, leave)
        rehab = svc == "rehab"
        # Blocked in rehab: from the end of the stay there until the patient left its bed.
        blocked = _overlap(stay_end[rehab], leave[rehab], lo, hi)
        blocked = np.nan_to_num(blocked)  # still in its stay at the end: never blocked
        kpi = reps.loc[r]
        assert blocked.sum() == pytest.approx(kpi["community_delayed_bed_days"], rel=1e-6)
        assert kpi["community_delayed_bed_days"] > 10
        assert blocked.sum() / (hi - lo) == pytest.approx(kpi["rehab_mean_blocked"], rel=1e-6)
        for name in ("rehab", "home_care", "care_home"):
            here = (svc == name) & ~np.isnan(start)
            held = _overlap(start[here], leave[here], lo, hi).sum() / (hi - lo)
            assert held == pytest.approx(kpi[f"{name}_mean_occupied"], rel=1e-6), name


def test_reproduce_checks_visit_lists(chain_run, tmp_path):
    table = pd.read_parquet(chain_run / "patients.parquet")
    # Visits unfinished at the end have NaN times: a re-run still matches them.
    assert np.isnan(_flat(table, "visit_leave_days")).any()
    good = reproduce(chain_run, workers=1)
    assert good.ok, good.mismatches
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in chain_run.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    # A tampered copy, edited in Arrow (pandas would rewrite other columns' types): a patient's
    # second visit goes elsewhere and leaves a moment later.
    two = int(np.flatnonzero(table["visit_services"].map(len).to_numpy() >= 2)[0])
    stored = pq.read_table(bad / "patients.parquet")
    for name, value in (("visit_services", ["rehab", "nowhere"]), ("visit_leave_days", None)):
        column = stored.column(name).to_pylist()
        column[two] = value if value is not None else [column[two][0], column[two][1] + 1e-6]
        at = stored.schema.get_field_index(name)
        stored = stored.set_column(at, name, pa.array(column, stored.schema.field(name).type))
    pq.write_table(stored, bad / "patients.parquet")
    report = reproduce(bad, workers=1)
    assert report.mismatches == [
        "patients visit_services: 1 values differ",
        "patients visit_leave_days: 1 values differ",
    ]


def test_visit_lists_keep_their_types_without_any_visit():
    """A run where nobody goes to a community service still writes lists of names and times
    (a sweep's later runs, with visits, are appended to its schema)."""
    cfg = load_config(CONFIG, ["groups.frail.pathways={home: 1}"])
    table = patient_table(run_model(cfg, replication_seeds(11, 1)[0]))
    assert table["visit_services"].map(len).sum() == 0
    schema = pa.Table.from_pandas(table).schema
    assert schema.field("visit_services").type == pa.list_(pa.string())
    for col in VISIT_TIMES:
        assert schema.field(col).type == pa.list_(pa.float64()), col
