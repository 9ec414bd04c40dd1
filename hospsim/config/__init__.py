"""Layer 1, config: what a user writes (configs, schedules, distributions, experiment files),
read safely and validated into frozen typed objects. Imports nothing else of hospsim."""

from .loading import (
    apply_overrides,
    config_from_dict,
    config_hash,
    config_to_dict,
    copy_raw,
    default_config_path,
    load_config,
    parse_value,
    read_yaml,
    set_dotted,
)
from .schema import (
    HOME,
    STEP_UP,
    Acute,
    Config,
    ConfigError,
    Demand,
    Elective,
    Emergency,
    Escalation,
    Group,
    PathwayChange,
    PlanDelivery,
    Service,
    Winter,
    gated_schedules,
    plan_schedules,
)

__all__ = [
    "HOME", "STEP_UP", "Acute", "Config", "ConfigError", "Demand", "Elective", "Emergency", "Escalation", "Group",
    "PathwayChange", "PlanDelivery", "Service", "Winter", "apply_overrides", "config_from_dict", "config_hash",
    "config_to_dict", "copy_raw", "default_config_path", "gated_schedules", "load_config", "parse_value",
    "plan_schedules", "read_yaml", "set_dotted",
]
