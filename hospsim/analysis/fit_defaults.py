"""The run length a fitted config gets unless asked otherwise (``hospsim fit``), apart from the
fitting itself so that the command line can show them without importing pandas and scipy."""

HORIZON_DAYS = 365  # horizon_days of a fitted config, warm-up included
WARMUP_DAYS = 180
