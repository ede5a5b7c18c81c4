"""Reading metadata tables (CSV) with errors that name the file, the line and the column."""
from __future__ import annotations

import csv
from pathlib import Path

from ..errors import DatasetError


def read_csv_rows(csv_path: Path, *, required: tuple[str, ...], delimiter: str = ",",
                  ) -> list[tuple[int, dict[str, str]]]:
    """(line number where the row starts, row) pairs with lower-cased, stripped column names;
    checks the columns."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            if reader.fieldnames is None:
                raise DatasetError(f"{csv_path}: empty CSV (needs columns {', '.join(required)})")
            reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames]
            missing = [c for c in required if c not in reader.fieldnames]
            if missing:
                raise DatasetError(
                    f"{csv_path}: missing column(s) {', '.join(missing)} (has {', '.join(reader.fieldnames)})"
                )
            out, end = [], reader.line_num
            for row in reader:  # a quoted cell may span lines (CBIS-DDSM paths end in "\n"): report the first
                out.append((end + 1, {k: (v or "") for k, v in row.items() if k}))
                end = reader.line_num
            return out
    except FileNotFoundError:
        raise DatasetError(f"{csv_path}: not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV ({exc})") from None


def cell_error(path: Path, line: int, column: str, problem: str, *, unit: str = "line") -> DatasetError:
    """The one error format of every metadata table: file, line (or spreadsheet row), column, problem."""
    return DatasetError(f"{path}, {unit} {line}, column {column!r}: {problem}")
