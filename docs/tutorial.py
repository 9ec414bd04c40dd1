# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your first plan in 10 minutes, from Python
#
# This tutorial asks hospsim one planning question from Python: **what happens to the default
# footprint's hospital if it closes 250 of its 2,250 acute beds?** You will load the bundled
# config, change the number of beds, run a few replications, read the KPIs, draw the occupancy
# fan chart and write the report a planning board reads.
#
# It is a plain Python script in Jupytext's "percent" format: run it with
# `python docs/tutorial.py`, step through its `# %%` cells in VS Code or Spyder, or open it as a
# notebook with Jupytext (`jupytext --to notebook docs/tutorial.py`). It needs nothing beyond
# hospsim itself. Each replication of the footprint takes a few seconds per core.

# %%
import os
from pathlib import Path

import hospsim

# Where the tutorial writes, and how many replications it runs (the test suite runs it with 2).
OUT = Path(os.environ.get("HOSPSIM_TUTORIAL_OUT", "tutorial-results"))
REPLICATIONS = int(os.environ.get("HOSPSIM_TUTORIAL_REPLICATIONS", "5"))

# %% [markdown]
# ## 1. Load the default footprint
#
# `default_config()` is the bundled, calibrated config of an average English STP footprint
# (1.2 million people). A config is a validated, read-only object: its fields are typed, and
# its lists and dicts cannot be changed in place.

# %%
base = hospsim.default_config()
print(f"{base.name}: {base.acute.beds.constant:.0f} beds, {base.horizon_days} days (warm-up {base.warmup_days})")
print("community services:", ", ".join(f"{name} {svc.capacity.constant:.0f}" for name, svc in base.services.items()))

# %% [markdown]
# ## 2. Change the plan with `with_overrides`
#
# `with_overrides` takes dotted paths, exactly as `hospsim run --set acute.beds=2000` does, and
# returns a new validated config; the original is unchanged. A value can be a number or a whole
# schedule, e.g. `{"acute.beds": {"steps": [[0, 2250], [400, 2000]]}}` for a cut on day 400.
# A typo or an impossible value is refused with a one-line `hospsim.ConfigError`.

# %%
cut = base.with_overrides({"acute.beds": 2000, "name": "footprint-2000-beds"})
print(f"with the cut: {cut.acute.beds.constant:.0f} beds")

try:
    base.with_overrides({"acute.beds": -5})
except hospsim.ConfigError as err:
    print("refused:", err)

# %% [markdown]
# ## 3. Run a few replications
#
# `run()` simulates the replications in parallel (the numbers do not depend on the number of
# workers) and, without `out=`, keeps the results in memory. It is safe from a plain script
# like this one: no `if __name__ == "__main__":` guard is needed. `engine="fast"` runs the
# compiled engine: the same numbers as the reference engine (`"simpy"`, the default), about ten
# times sooner.

# %%
res = hospsim.run(cut, replications=REPLICATIONS, engine="fast", progress=False)
print(res)

# %% [markdown]
# ## 4. Look at the KPIs
#
# `res.summary` holds the mean and 95% confidence interval of every KPI across replications
# (the README's KPI dictionary says what each means); `res.kpis` holds one row per replication,
# `res.daily` one row per replication and day.

# %%
summary = res.summary.set_index("kpi")
for kpi, label in [
    ("mean_occupancy", "mean occupancy"),
    ("share_days_over_92pct", "share of days above 92% occupancy"),
    ("p_wait_for_bed", "share of emergencies who wait for a bed"),
    ("waits_over_12h_per_1000", "12-hour waits per 1,000"),
    ("mean_delayed_patients", "delayed transfers (patients on an average day)"),
]:
    row = summary.loc[kpi]
    print(f"{label}: {row['mean']:.3g} (95% CI {row['ci_low']:.3g} to {row['ci_high']:.3g})")

print(res.kpis[["replication", "mean_occupancy", "acute_bed_days"]])

# %% [markdown]
# With the default 2,250 beds the footprint runs at about 90.6% occupancy and nobody waits
# 12 hours for a bed (see the README's first worked example). Compare: how much fuller is the
# hospital with 2,000 beds, and do emergencies start to wait?

# %% [markdown]
# ## 5. Plot the fan chart
#
# Every figure of `hospsim plot` is a method returning a matplotlib `Figure`: `plot_fan()`,
# `plot_delays()`, `plot_services()`, `plot_exceedance()` (and for sweeps `plot_robustness()`
# and `plot_forest()`); `res.figures` lists those these results can give. In a notebook the
# figure shows itself; here it is saved.

# %%
OUT.mkdir(parents=True, exist_ok=True)
fig = res.plot_fan()
fig.savefig(OUT / "fan.png", dpi=80)
print("figures available:", ", ".join(res.figures))
print(f"fan chart written to {OUT / 'fan.png'}")

# %% [markdown]
# ## 6. Save the results and write the report
#
# `save()` writes the same results folder as `hospsim run --out` (tables, daily series and a
# manifest that lets `hospsim reproduce` re-run every number); `report()` writes the
# self-contained HTML report of that folder. `hospsim.load_results(folder)` opens it again later.

# %%
saved = res.save(OUT / "results")
report = saved.report(OUT / "report.html")
print(f"report written to {report}")

again = hospsim.load_results(OUT / "results")
print("reloaded:", again)

# %% [markdown]
# ## Next
#
# - Plans that change over time: schedules (`steps`, `ramp`) and gates, in the README's config
#   reference.
# - Whether a plan holds when intermediate care is late: write an experiment and run it with
#   `hospsim.sweep("experiments/swl_44pct_fast.yaml")`; its results add `.verdicts`,
#   `.paired_differences` and `plot_robustness()`.
