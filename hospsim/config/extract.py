"""Episode extracts: one row per acute hospital spell, read from CSV or Parquet and validated.

An extract is what a hospital's patient administration system can give an analyst (admissions,
discharges, discharge destinations), in the format documented in ``docs/extract-format.md``:
:data:`EXTRACT_COLUMNS`. :func:`read_extract` parses it column by column in bulk (no loop per row:
an extract can hold millions of spells) and refuses a bad one with a one-line
:class:`~hospsim.config.errors.ConfigError` naming the column and the first bad row:
``extract.csv: column discharge_datetime, row 17 (episode_id E000017): '2021-03-01 09:00' is
before admission_datetime '2021-03-02 10:00'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import MAX_LISTED, ConfigError

# An extract larger than this is refused before it is read: 2 GiB of CSV is ~20 million spells,
# a decade of a large trust's admissions; reading more would need more memory than an analyst's
# laptop has (several times the file's size: 5 million rows, 500 MB of CSV, peak at ~3 GB).
MAX_EXTRACT_BYTES = 2 * 1024**3
MAX_EXTRACT_ROWS = 20_000_000
# Datetimes outside these years are typing errors (1066, 2921), not hospital stays.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200

HOME = "home"  # the pathway with no community service (as in configs)
ALL_GROUP = "all"  # the one group of an extract without a group column
EMERGENCY = "emergency"
ELECTIVE = "elective"
METHODS = (EMERGENCY, ELECTIVE)
_LABEL = r"[a-z][a-z0-9_]*"  # lower_snake_case, as config names (schema: groups, services)
# ISO 8601 as analysts' tools write it: a date, or a date and a time to the minute or the second
# (a fraction of a second, as SQL exports add, is allowed); a space or a T between them.
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
_DATETIME_FORMS = "YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DD"
_SHOWN_CHARS = 24  # a value quoted in a message is cut to this length


@dataclass(frozen=True)
class ExtractColumn:
    """One documented column of an extract."""

    name: str
    required: bool
    kind: Literal["text", "datetime", "method", "label"]
    meaning: str
    default: str  # what is assumed when an optional column is missing ("" for a required one)


EXTRACT_COLUMNS: tuple[ExtractColumn, ...] = (
    ExtractColumn(
        "episode_id",
        False,
        "text",
        "any identifier of the spell; only used to name a row in messages",
        "rows are named by their number only",
    ),
    ExtractColumn("admission_datetime", True, "datetime", "admission to an acute bed", ""),
    ExtractColumn("admission_method", True, "method", "`emergency` or `elective`", ""),
    ExtractColumn(
        "group",
        False,
        "label",
        "patient group or age band of an emergency, lower_snake_case (ignored for electives)",
        "every emergency is in one group, all",
    ),
    ExtractColumn(
        "medically_fit_datetime",
        False,
        "datetime",
        "medically fit for discharge; empty: not yet fit (or, on a discharged row, unknown: taken as the discharge)",
        "taken as discharge_datetime: no delays after becoming medically fit",
    ),
    ExtractColumn(
        "discharge_datetime",
        True,
        "datetime",
        "left the acute bed; empty: still in hospital at the end of the extract",
        "",
    ),
    ExtractColumn(
        "discharge_pathway",
        False,
        "label",
        "`home` or the community service the patient went to (lower_snake_case); "
        "empty only while still in hospital (not yet referred)",
        "every patient went home: no community services",
    ),
    ExtractColumn(
        "service_start_datetime",
        False,
        "datetime",
        "moved into the service of discharge_pathway; empty: not known",
        "no community lengths of stay in the extract",
    ),
    ExtractColumn(
        "service_end_datetime",
        False,
        "datetime",
        "left that service's place; empty: still in it at the end of the extract (or not known)",
        "no community lengths of stay in the extract",
    ),
)
COLUMN_NAMES = tuple(c.name for c in EXTRACT_COLUMNS)
DATETIME_COLUMNS = tuple(c.name for c in EXTRACT_COLUMNS if c.kind == "datetime")
REQUIRED_COLUMNS = tuple(c.name for c in EXTRACT_COLUMNS if c.required)


def days_column(datetime_column: str) -> str:
    """The float-days column of a datetime column: ``admission_datetime`` -> ``admission_days``."""
    return datetime_column.removesuffix("_datetime") + "_days"


@dataclass(frozen=True, eq=False)
class Extract:
    """A validated extract: the spells admitted in ``[start_date, end_date)``.

    ``episodes`` has one row per spell, in file order: ``row`` (the 1-based data row in the file),
    ``episode_id`` (text, empty if the file has none), ``admission_method`` (categorical:
    emergency, elective), ``group`` (categorical; NaN for electives), ``discharge_pathway``
    (categorical; NaN while still in hospital and not yet referred), and each datetime column
    twice: ``*_datetime`` (pandas Timestamps, NaT where empty) and ``*_days`` (float days since
    ``start_date`` midnight, NaN where empty). ``defaults_used``: the optional columns the file
    lacks (:func:`describe_defaults` says what is assumed for each)."""

    episodes: pd.DataFrame
    start_date: dt.date
    end_date: dt.date  # the day after the period (exclusive)
    path: str
    defaults_used: tuple[str, ...]

    @property
    def n_days(self) -> int:
        """Days in the period."""
        return (self.end_date - self.start_date).days


def describe_defaults(extract: Extract) -> list[str]:
    """One line per optional column the extract lacks, saying what is assumed instead (what
    ``hospsim fit`` prints once on stderr)."""
    by_name = {c.name: c for c in EXTRACT_COLUMNS}
    return [f"{extract.path}: no column {name}: {by_name[name].default}" for name in extract.defaults_used]


def example_extract_path() -> Path:
    """The small example extract shipped with the package (``docs/extract-format.md`` says how it
    was made)."""
    return Path(str(resources.files("hospsim") / "data" / "example_extract.csv"))


def read_extract(path: str | Path, start: dt.date | None = None, end: dt.date | None = None) -> Extract:
    """Read and validate an extract (``.csv``, UTF-8 with a header row, or ``.parquet``).

    The period is ``[start, end)``: by default from the first admission's date to the day after
    the last datetime in the file. With ``end``, the extract is read as it would have been written
    at ``end``: datetimes at or after it are empty (a patient discharged later is still in
    hospital), and a discharge pathway is known only for patients discharged or medically fit by
    then. Only spells admitted in the period are kept. A bad extract raises a one-line
    :class:`ConfigError` naming the column and the first bad row."""
    source = str(path)
    raw, names = _read_table(Path(path), source)
    _check_columns(raw, names, source)
    parsed = _parse(raw, source)
    return _in_period(parsed, source, start, end, tuple(c for c in COLUMN_NAMES if c not in raw.columns))


# --- reading the file: every column as text (Parquet datetimes as datetimes) -----------------


def _read_table(path: Path, source: str) -> tuple[pd.DataFrame, list[str]]:
    """The documented columns of the file (as text; Parquet datetimes as datetimes), and the names
    of all its columns."""
    if not path.exists():
        raise ConfigError(f"{source}: no such file")
    if not path.is_file():
        raise ConfigError(f"{source}: not a file")
    size = path.stat().st_size
    if size == 0:
        raise ConfigError(f"{source}: empty file (expected a header row and one row per spell)")
    if size > MAX_EXTRACT_BYTES:
        raise ConfigError(
            f"{source}: {_size(size)}, more than the {_size(MAX_EXTRACT_BYTES)} an extract may have; "
            "extract a shorter period"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table, names = _read_csv(path, source)
    elif suffix == ".parquet":
        table, names = _read_parquet(path, source)
    else:
        raise ConfigError(f"{source}: expected a .csv or .parquet file")
    if len(table) == 0:
        raise ConfigError(f"{source}: no rows (only a header)")
    if len(table) > MAX_EXTRACT_ROWS:
        raise ConfigError(f"{source}: {len(table):,} rows, more than the {MAX_EXTRACT_ROWS:,} an extract may have")
    return table.reset_index(drop=True), names


def _read_csv(path: Path, source: str) -> tuple[pd.DataFrame, list[str]]:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ConfigError(f"{source}: UTF-16 text; save it as CSV UTF-8")
    try:
        header = _csv_header(path)
        # Every value as text ("" where empty): the columns are parsed and checked below. The
        # "utf-8-sig" codec drops the byte-order mark Excel writes before "CSV UTF-8".
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(_not_utf8(path, source)) from None
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{source}: empty file (expected a header row and one row per spell)") from None
    except pd.errors.ParserError as exc:
        raise ConfigError(f"{source}: {_parser_problem(str(exc))}") from None
    _check_header(header, source)
    # Other columns are dropped at once (a PAS extract may have dozens). All were read: pandas
    # finds a row with more fields than the header only then. A row with fewer has its last
    # values empty, as the trailing empty cells some tools leave out.
    return table[[c for c in table.columns if c in COLUMN_NAMES]], header


def _size(n_bytes: int) -> str:
    """A file size as people read it: ``2.0 GiB``, ``340 MiB``, ``100 bytes``."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def _csv_header(path: Path) -> list[str]:
    """The header row as written (pandas renames a repeated name ``x.1``: it is checked here)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def _check_header(names: list[str], source: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{source}: column {name}: appears twice in the header")
        seen.add(name)


def _not_utf8(path: Path, source: str) -> str:
    """Where the first byte that is not UTF-8 is (found only once reading failed)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return f"{source}: not UTF-8 text; save it as CSV UTF-8"
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        line = data.count(b"\n", 0, exc.start)  # 0: the header
        where = "the header" if line == 0 else f"row {line}"
        return (
            f"{source}: {where}: byte 0x{byte:02X} is not UTF-8 (a latin-1 or Windows-1252 file?); save it as CSV UTF-8"
        )


def _parser_problem(message: str) -> str:
    """pandas' tokenizer message (``Expected 9 fields in line 5, saw 10``) as a row of data."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if found:
        expected, line, saw = (int(g) for g in found.groups())
        return f"row {line - 1}: {saw} fields, but the header has {expected} (a comma in an unquoted value?)"
    return f"not a readable CSV file ({message.strip().splitlines()[-1] if message.strip() else 'parser error'})"


def _read_parquet(path: Path, source: str) -> tuple[pd.DataFrame, list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        _check_header(names, source)
        if pf.metadata.num_rows > MAX_EXTRACT_ROWS:  # refused before the rows are read
            raise ConfigError(
                f"{source}: {pf.metadata.num_rows:,} rows, more than the {MAX_EXTRACT_ROWS:,} an extract may have"
            )
        table = pf.read(columns=[n for n in names if n in COLUMN_NAMES])
    except (pa.ArrowException, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"{source}: not a readable Parquet file ({reason})") from None
    columns: dict[str, pd.Series] = {}
    for name, column in zip(table.column_names, table.columns):
        columns[name] = _parquet_column(name, column, source)
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows)), names


def _parquet_column(name: str, column: Any, source: str) -> pd.Series:
    """A Parquet column as text ("" where null), or as datetimes if it holds timestamps or dates."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        if name not in DATETIME_COLUMNS:
            raise ConfigError(f"{source}: column {name}: holds datetimes; expected text")
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            raise ConfigError(
                f"{source}: column {name}: timestamps with a time zone ({kind.tz}); write local times without one"
            )
        return pd.Series(column.cast(pa.timestamp("us")).to_pandas(), dtype="datetime64[us]")
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)):
        raise ConfigError(f"{source}: column {name}: holds {kind} values; expected text or datetimes")
    text = pc.fill_null(column.cast(pa.string()), "")
    return pd.Series(text.to_pandas(), dtype=str)


def _check_columns(table: pd.DataFrame, names: list[str], source: str) -> None:
    for name in REQUIRED_COLUMNS:
        if name not in table.columns:
            raise ConfigError(f"{source}: column {name}: missing (a required column){_rename_hint(name, names)}")
    if "service_end_datetime" in table.columns and "service_start_datetime" not in table.columns:
        raise ConfigError(f"{source}: column service_end_datetime: needs service_start_datetime too")


def _rename_hint(name: str, names: list[str]) -> str:
    """Which of the file's other columns (not documented ones) may be ``name`` under another name."""
    others = [c for c in names if c not in COLUMN_NAMES]
    if not others:
        return ""
    close = difflib.get_close_matches(name, others, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(others[:MAX_LISTED]) + (
        f" and {len(others) - MAX_LISTED} more" if len(others) > MAX_LISTED else ""
    )
    return f" ({guess}other columns: {listed})"


# --- parsing and checking the rows -------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Rows failing one check, and how to describe the failure at a row."""

    bad: np.ndarray  # bool per row
    column: str
    describe: Callable[[int], str]  # row index (0-based) -> the problem


def _parse(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Typed columns from the raw text; the first bad row of any check raises a ConfigError."""
    n = len(raw)
    ids = raw["episode_id"].astype(str) if "episode_id" in raw.columns else None
    problems: list[_Problem] = []
    times: dict[str, pd.Series] = {}
    for name in DATETIME_COLUMNS:
        if name in raw.columns:
            times[name], found = _datetimes(raw[name], name)
            problems += found
        else:
            times[name] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    method = raw["admission_method"]
    problems.append(_Problem(_bool(~method.isin(METHODS)), "admission_method", _unknown_method(method)))
    emergency = _bool(method == EMERGENCY)
    group = _labels(raw, "group", emergency, problems, lambda i: "empty; every emergency needs a group")
    pathway = _labels(raw, "discharge_pathway", np.ones(n, dtype=bool), problems, None)
    if "medically_fit_datetime" not in raw.columns:
        times["medically_fit_datetime"] = times["discharge_datetime"]
    problems += _order_problems(times, pathway, "discharge_pathway" in raw.columns)
    _raise_first(problems, ids, source)
    fit = times["medically_fit_datetime"]
    # A discharged patient without a medically-fit time: fit when discharged (no delay).
    times["medically_fit_datetime"] = fit.where(fit.notna(), times["discharge_datetime"])
    out = pd.DataFrame({"row": np.arange(1, n + 1, dtype=np.int64)})
    out["episode_id"] = ids if ids is not None else pd.Series("", index=raw.index, dtype=str)
    for name, values in times.items():
        out[name] = values
    out["admission_method"] = pd.Categorical(method, categories=list(METHODS))
    out["group"] = _categorical(group.where(emergency) if group is not None else _constant(n, ALL_GROUP, emergency))
    out["discharge_pathway"] = _categorical(
        pathway.where(pathway != "") if pathway is not None else _known_pathway_home(times)
    )
    return out[_OUTPUT_ORDER]


_OUTPUT_ORDER = [
    "row",
    "episode_id",
    "admission_method",
    "group",
    "discharge_pathway",
    *DATETIME_COLUMNS,
]


def _bool(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(mask, dtype=bool)


def _datetimes(text: pd.Series, name: str) -> tuple[pd.Series, list[_Problem]]:
    """A column parsed as datetimes (NaT where empty), and its bad values."""
    stamped = pd.api.types.is_datetime64_any_dtype(text.dtype)  # a Parquet timestamp column
    if stamped:
        parsed = text.astype("datetime64[us]")
        unparsed = np.zeros(len(text), dtype=bool)
    else:
        well_formed = _bool(text.str.fullmatch(_DATETIME))
        parsed = pd.to_datetime(text.where(well_formed), format="ISO8601", errors="coerce").astype("datetime64[us]")
        unparsed = (text != "").to_numpy() & parsed.isna().to_numpy()

    def shown(i: int) -> str:  # the value as written (a timestamp as text), only for a message
        return _shown(_text(parsed.iat[i]) if stamped else text.iat[i])

    too_early = _bool(parsed < pd.Timestamp(EARLIEST_YEAR, 1, 1))
    too_late = _bool(parsed >= pd.Timestamp(LATEST_YEAR + 1, 1, 1))
    empty_required = _bool(parsed.isna()) & ~unparsed if name == "admission_datetime" else None
    problems = [
        _Problem(
            unparsed,
            name,
            lambda i: f"{shown(i)} is not a datetime (expected {_DATETIME_FORMS})",
        ),
        _Problem(
            too_early | too_late,
            name,
            lambda i: f"{shown(i)} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR} (a typing error?)",
        ),
    ]
    if empty_required is not None:
        problems.append(_Problem(empty_required, name, lambda i: "empty; every spell has an admission"))
    return parsed.where(~(too_early | too_late)), problems


def _unknown_method(method: pd.Series) -> Callable[[int], str]:
    return lambda i: f"{_shown(method.iat[i])} is not a method (expected emergency or elective)"


def _labels(
    raw: pd.DataFrame,
    name: str,
    checked: np.ndarray,
    problems: list[_Problem],
    empty_problem: Callable[[int], str] | None,
) -> pd.Series | None:
    """A label column (``None`` if the file has none): on the ``checked`` rows, lower_snake_case
    (or empty, where ``empty_problem`` is None)."""
    if name not in raw.columns:
        return None
    values = raw[name]
    empty = _bool(values == "")
    bad = checked & ~empty & ~_bool(values.str.fullmatch(_LABEL))
    what = "a group" if name == "group" else "a pathway (home or a service name)"
    problems.append(
        _Problem(bad, name, lambda i: f"{_shown(values.iat[i])} is not {what} in lower_snake_case (a-z, 0-9, _)")
    )
    if empty_problem is not None:
        problems.append(_Problem(checked & empty, name, empty_problem))
    return values


def _order_problems(times: dict[str, pd.Series], pathway: pd.Series | None, has_pathway: bool) -> list[_Problem]:
    """Times in the order a spell has them: admission <= fit <= discharge <= service start <= end."""
    adm, fit, dis = times["admission_datetime"], times["medically_fit_datetime"], times["discharge_datetime"]
    start, end = times["service_start_datetime"], times["service_end_datetime"]

    def before(later: pd.Series, earlier: pd.Series, name: str, earlier_name: str) -> _Problem:
        return _Problem(
            _bool(later < earlier),
            name,
            lambda i: f"{_shown(_text(later.iat[i]))} is before {earlier_name} {_shown(_text(earlier.iat[i]))}",
        )

    def given_without(column: str, values: pd.Series, missing: pd.Series, why: str) -> _Problem:
        return _Problem(_bool(values.notna() & missing.isna()), column, lambda i: f"given, but {why}")

    problems = [
        before(dis, adm, "discharge_datetime", "admission_datetime"),
        before(fit, adm, "medically_fit_datetime", "admission_datetime"),
        _Problem(
            _bool(fit > dis),
            "medically_fit_datetime",
            lambda i: f"{_shown(_text(fit.iat[i]))} is after discharge_datetime {_shown(_text(dis.iat[i]))}",
        ),
        before(start, dis, "service_start_datetime", "discharge_datetime"),
        given_without(
            "service_start_datetime", start, dis, "discharge_datetime is empty (the patient is still in hospital)"
        ),
        before(end, start, "service_end_datetime", "service_start_datetime"),
        given_without("service_end_datetime", end, start, "service_start_datetime is empty"),
    ]
    if has_pathway and pathway is not None:
        home = _bool(pathway == HOME)
        problems.append(
            _Problem(
                home & _bool(start.notna()),
                "service_start_datetime",
                lambda i: "given, but discharge_pathway is home (no community service)",
            )
        )
        problems.append(
            _Problem(
                _bool(pathway == "") & _bool(dis.notna()),
                "discharge_pathway",
                lambda i: "empty, but the patient was discharged (give home or the service's name)",
            )
        )
    return problems


def _raise_first(problems: list[_Problem], ids: pd.Series | None, source: str) -> None:
    """Raise the problem at the first bad row (at a row with two, the first in ``problems``: a
    value that cannot be read before times out of order, a discharge before admission first)."""
    found = [(int(p.bad.argmax()), k) for k, p in enumerate(problems) if p.bad.any()]
    if not found:
        return
    i, k = min(found)
    p = problems[k]
    raise ConfigError(f"{source}: column {p.column}, {_row_name(i, ids)}: {p.describe(i)}")


def _row_name(i: int, ids: pd.Series | None) -> str:
    if ids is None or ids.iat[i] == "":
        return f"row {i + 1}"
    value = str(ids.iat[i])
    plain = len(value) <= _SHOWN_CHARS and re.fullmatch(r"[A-Za-z0-9_.:/-]+", value)
    return f"row {i + 1} (episode_id {value if plain else _shown(value)})"


def _shown(value: object) -> str:
    """A value as a message quotes it: in quotes, cut if long."""
    text = str(value)
    return repr(text if len(text) <= _SHOWN_CHARS else f"{text[: _SHOWN_CHARS - 8]}...")


def _text(value: Any) -> str:
    """A datetime as messages show it."""
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


def _categorical(values: pd.Series) -> pd.Categorical[str]:
    """Text as a categorical over its sorted values (the same categories whatever the file's order)."""
    present = values.dropna()
    return pd.Categorical(values, categories=sorted(present.unique().tolist()))


def _constant(n: int, value: str, where: np.ndarray) -> pd.Series:
    """``value`` where ``where`` holds, NaN elsewhere."""
    return pd.Series(value, index=pd.RangeIndex(n), dtype=str).where(where)


def _known_pathway_home(times: dict[str, pd.Series]) -> pd.Series:
    """Without a pathway column every patient went home: known once discharged."""
    discharged = times["discharge_datetime"].notna().to_numpy()
    return _constant(discharged.size, HOME, discharged)


# --- the period ----------------------------------------------------------------------------------


def _in_period(
    episodes: pd.DataFrame, source: str, start: dt.date | None, end: dt.date | None, defaults: tuple[str, ...]
) -> Extract:
    """The spells admitted in ``[start, end)``, as known at ``end``, with float-days columns."""
    stamps = episodes[list(DATETIME_COLUMNS)]
    first = episodes["admission_datetime"].min().date()
    last = stamps.max().max()
    start_date = start if start is not None else first
    end_date = end if end is not None else (last.date() + dt.timedelta(days=1))
    if end_date <= start_date:
        raise ConfigError(f"{source}: the period {start_date} to {end_date} is empty (--to must be after --from)")
    t0, t1 = pd.Timestamp(start_date), pd.Timestamp(end_date)
    adm = episodes["admission_datetime"]
    kept = episodes.loc[(adm >= t0) & (adm < t1)].reset_index(drop=True)
    if kept.empty:
        raise ConfigError(
            f"{source}: no admissions from {start_date} to {end_date} (the file has {first} to {last:%Y-%m-%d})"
        )
    if end is not None:
        kept = _as_known_at(kept, t1)
    for name in DATETIME_COLUMNS:
        kept[days_column(name)] = (kept[name] - t0) / pd.Timedelta(days=1)
    return Extract(kept, start_date, end_date, source, defaults)


def _as_known_at(episodes: pd.DataFrame, t1: pd.Timestamp) -> pd.DataFrame:
    """The spells as an extract written at ``t1`` would show them."""
    out = episodes.copy()
    for name in DATETIME_COLUMNS:
        out[name] = out[name].where(out[name] < t1)
    known = out["discharge_datetime"].notna() | out["medically_fit_datetime"].notna()
    out["discharge_pathway"] = out["discharge_pathway"].where(known)
    return out
