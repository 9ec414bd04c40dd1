"""Census files: the system at day 0, one row per patient, read into a config's ``initial_state``.

A config may name a CSV instead of listing the patients (``initial_state: census.csv``, a path
relative to the config's folder). The file is read when the config is, so a validated config holds
the census itself: its hash, its dump in a results folder and every replication see the same
patients, and the model reads no file. Columns (header row; unknown columns are refused):

========================  ==================================================================
``place``                 ``acute``, ``boarding``, ``waiting_list`` or a community service's name
``group``                 acute and boarding: the patient group (``elective`` in an acute bed
                          for an elective admission)
``elapsed_days``          time already spent: since admission (acute), since the service stay
                          began (service), since arrival (boarding), since referral (waiting list)
``fit_elapsed_days``      optional, acute: time since medically fit (empty: not yet fit); a
                          service: time since the patient finished its stay there and began to
                          wait to move on (empty: still in its stay)
``waiting_for``           with ``fit_elapsed_days``: the service the patient waits for
``priority``              waiting list: the clinical priority
========================  ==================================================================
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .limits import MAX_INITIAL_LIST

COLUMNS = ("place", "group", "elapsed_days", "fit_elapsed_days", "waiting_for", "priority")
REQUIRED = ("place", "elapsed_days")
MAX_BYTES = 200_000_000  # ~4 million rows of a census; a whole country's beds are ~100,000
_NUMBERS = ("elapsed_days", "fit_elapsed_days")
_FIELDS = {  # the columns each place takes (others must be empty)
    "acute": ("group", "elapsed_days", "fit_elapsed_days", "waiting_for"),
    "boarding": ("group", "elapsed_days"),
    "waiting_list": ("priority", "elapsed_days"),
}


def read_census(path: Path) -> dict[str, Any]:
    """The census at ``path`` as ``initial_state`` data; a problem is one line naming the file,
    the row (1 = the first after the header) and the column."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes, more than a census may hold ({MAX_BYTES:,})")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: census file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the census ({exc.strerror})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ConfigError(f"{path}: column {unknown[0]!r} is not a census column ({', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ConfigError(f"{path}: no column {missing[0]!r}")
    out: dict[str, list[dict[str, Any]]] = {"acute": [], "services": [], "boarding": [], "waiting_list": []}
    for row_number, row in enumerate(reader, start=1):
        if row_number > MAX_INITIAL_LIST:
            raise ConfigError(f"{path}: more than {MAX_INITIAL_LIST:,} rows")
        if None in row:
            raise ConfigError(f"{path}: row {row_number}: more values than columns")
        place, entry = _row(path, row_number, row)
        out[place].append(entry)
    return out


def _row(path: Path, n: int, row: dict[str, str | None]) -> tuple[str, dict[str, Any]]:
    """One census row as (section, entry)."""
    values = {k: (v or "").strip() for k, v in row.items()}
    place = values["place"]
    if not place:
        raise ConfigError(f"{path}: row {n}, column place: empty")
    fields = _FIELDS.get(place, ("elapsed_days", "fit_elapsed_days", "waiting_for"))
    entry: dict[str, Any] = {} if place in _FIELDS else {"service": place}
    for column in COLUMNS[1:]:
        text = values.get(column, "")
        if not text:
            continue
        if column not in fields:
            raise ConfigError(f"{path}: row {n}, column {column}: not used for place {place!r} (leave it empty)")
        # A service's "fit" is the end of its stay there.
        key = "finished_elapsed_days" if column == "fit_elapsed_days" and place not in _FIELDS else column
        entry[key] = _number(path, n, column, text) if column in _NUMBERS else text
    return ("services" if place not in _FIELDS else place), entry


def _number(path: Path, n: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{path}: row {n}, column {column}: {text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{path}: row {n}, column {column}: {text!r} is not a finite number")
    return value


def census_csv_text(state: dict[str, Any]) -> str:
    """An ``initial_state`` (as data) as census CSV text, the form :func:`read_census` reads."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for a in state.get("acute", []):
        writer.writerow({"place": "acute", **a})
    for sv in state.get("services", []):
        row = {k: v for k, v in sv.items() if k not in ("service", "finished_elapsed_days")}
        if "finished_elapsed_days" in sv:
            row["fit_elapsed_days"] = sv["finished_elapsed_days"]
        writer.writerow({"place": sv["service"], **row})
    for b in state.get("boarding", []):
        writer.writerow({"place": "boarding", **b})
    for w in state.get("waiting_list", []):
        writer.writerow({"place": "waiting_list", **w})
    return buf.getvalue()
