"""The ceilings on every number a user gives: config fields and command-line arguments.

Every float of a config is finite (the schema's models set ``allow_inf_nan=False``) and every
number is below a ceiling from this module, so nothing that ``hospsim check`` accepts can overflow,
hang or crash ``hospsim run``. Each ceiling is far above any real system, and low enough that the
products the model forms stay exact:

* ``MAX_PLACES`` (10^6) -- beds, escalation beds, community places, theatre slots, gate thresholds.
  England has ~100,000 general and acute beds; a million is ten Englands. Capacities become int64
  whole places: 10^6 places x ``MAX_HORIZON_DAYS`` days = 3.7 x 10^11 place days, far inside int64.
* ``MAX_PER_DAY`` (10^6) -- emergencies a day (``demand.emergency.per_day``). England has ~16,000
  emergency admissions a day.
* ``MAX_REFERRALS_PER_WEEK`` (10^6) -- elective referrals a week (England: ~400,000 a week).
* ``MAX_INITIAL_LIST`` (10^7) -- patients on the starting waiting list (England's peak: 7.8 m).
* ``MAX_LOS_DAYS`` (3,652.5, ten years) -- mean LOS, assessment time, empirical values: no
  hospital or community stay is planned around a decade.
* ``MAX_CV`` (100) -- coefficient of variation of a LOS: real stays have CVs of 0.5-3; at 100 a
  lognormal's sigma^2 is 9.2 and its quantiles stay far inside float range.
* ``MAX_HORIZON_DAYS`` (365,250, a thousand years) -- horizon, and any day a schedule, ramp, gate
  or delay names. Plans are tested over years, but the queueing validation against closed forms
  (tests/test_validation.py) runs a small unit for up to ~830 years to pin a blocking probability
  down; a thousand years keeps each per-day array at ~3 MB.
* ``MAX_FACTOR`` (1,000) -- weekday and hourly factors and plan multipliers (LOS, assessment): a
  thousand-fold change is no plan; bounds rates at ``MAX_PER_DAY`` x 1,000.
* ``MAX_GROWTH_PER_YEAR`` (1, doubling a year) -- demand growth; over ``MAX_HORIZON_DAYS`` the
  growth factor stays below 2^1000 ~ 10^301, inside float range even x ``MAX_FACTOR``, and
  ``demand.emergency.headroom`` (at most 10) rejects any growth beyond 10-fold.
* ``MAX_WAIT_HOURS`` (8,760, one year) -- ``acute.max_wait_hours``: nobody waits a year for a bed.
* ``MAX_COST_GBP_PER_DAY`` (10^9) -- cost of a place day or a delayed bed day (real: £100-£500).
  A capacity cost is at most 10^6 places x 365,250 days x 10^9 = 3.7 x 10^20 £: a float (exact to
  16 digits), never an int64.
* ``MAX_OCCUPANCY`` (10) -- a gate's occupancy threshold, a share of core beds (escalation beds
  can push occupancy a little above 1; ten times the beds is no threshold).
* ``MAX_REPLICATIONS`` (10^5) -- replications (config or ``-r``): at ~1 s a replication of the
  default footprint, 10^5 is a day of a core; the 95% CI is already ~1% of the SD at 10^4.
* ``SEED_LIMIT`` (2^63) -- the root seed is below it: seeds are stored in int64 columns
  (results tables, parquet).
* ``MAX_WORKERS`` (1,024) -- worker processes (``--workers``): each is a process with a copy of the
  model; more than a machine's cores gains nothing and thousands exhaust its memory.
* ``MAX_RUNS`` (10^7) -- ``--sample`` and ``--point``: a count or index of a sweep's runs/points.
* ``MAX_DPI`` (2,400) -- ``--dpi``: print resolution; a 10,000 dpi figure is gigapixels.
* ``MAX_LABEL_CHARS`` (80) -- a display label (an experiment's ``labels``): a table column head or
  a figure legend entry, not a paragraph.
"""

from __future__ import annotations

MAX_PLACES = 1_000_000
MAX_PER_DAY = 1_000_000.0
MAX_REFERRALS_PER_WEEK = 1_000_000.0
MAX_INITIAL_LIST = 10_000_000
MAX_LOS_DAYS = 3652.5
MAX_CV = 100.0
MAX_HORIZON_DAYS = 365_250
MAX_FACTOR = 1000.0
MAX_GROWTH_PER_YEAR = 1.0
MAX_WAIT_HOURS = 8760.0
MAX_COST_GBP_PER_DAY = 1e9
MAX_OCCUPANCY = 10.0
MAX_REPLICATIONS = 100_000
SEED_LIMIT = 2**63
MAX_SEED = SEED_LIMIT - 1
MAX_WORKERS = 1024
MAX_RUNS = 10_000_000
MAX_DPI = 2400
MAX_LABEL_CHARS = 80
