"""Stock lists saved from 1C reports as CSV.

1C does not write CSV itself. Such files come from a report opened in Excel or
from a custom processing: `;` separators, windows-1251, decimal commas and
thousands separators. Columns differ from seller to seller, so `CsvFormat` maps
header names to fields.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.onec.commerceml import FileOffers, negative_issue, parse_quantity, quantity_error_issue
from chalicelib.onec.errors import QuantityError, RejectedFileError
from chalicelib.onec.models import InputIssue


@dataclass(frozen=True)
class CsvFormat:
    """Column layout of a CSV stock list; column values are header names of the first row.

    `warehouses` maps a header to a 1C warehouse id, for per-warehouse quantity
    columns. `article`, `code`, `name` and `total` may be None when the file has
    no such column. `only_changes` False means the file lists every offer, so an
    empty quantity cell is read as 0.
    """

    offer_id: str = "Ид"
    article: str | None = "Артикул"
    code: str | None = "Код"
    name: str | None = "Наименование"
    total: str | None = "Количество"
    warehouses: Mapping[str, str] = field(default_factory=dict)
    delimiter: str = ";"
    encoding: str = "windows-1251"
    only_changes: bool = False

    def required_headers(self) -> list[str]:
        optional = [self.article, self.code, self.name, self.total]
        return [self.offer_id, *[header for header in optional if header], *self.warehouses]


def read_csv(path: Path, source: str, csv_format: CsvFormat) -> FileOffers:
    """Read a CSV stock list into spooled offers, one issue per bad row.

    Raises `RejectedFileError` when the file cannot be decoded or lacks a
    configured column; no row of it is used then.
    """
    result = FileOffers(source, only_changes=csv_format.only_changes)
    try:
        with path.open("r", encoding=csv_format.encoding, newline="") as stream:
            rows = csv.reader(stream, delimiter=csv_format.delimiter)
            header = next(rows, None)
            if header is None:
                raise RejectedFileError(source, "файл пуст. Сохраните отчёт об остатках заново")
            columns = _columns(source, header, csv_format)
            for row_number, row in enumerate(rows, start=2):
                _read_row(result, row_number, row, columns, csv_format)
    except UnicodeDecodeError as error:
        result.discard()
        raise RejectedFileError(
            source,
            f"файл не читается в кодировке {csv_format.encoding} (байт {error.start}). "
            "Сохраните его в этой кодировке или укажите другую в настройках CSV",
        ) from error
    except (RejectedFileError, csv.Error) as error:
        result.discard()
        if isinstance(error, RejectedFileError):
            raise
        raise RejectedFileError(source, f"CSV не читается ({error}). Сохраните отчёт заново") from error

    result.report_duplicates()
    return result


def _columns(source: str, header: list[str], csv_format: CsvFormat) -> dict[str, int]:
    positions = {name.strip().lstrip("\ufeff"): index for index, name in enumerate(header)}
    missing = [name for name in csv_format.required_headers() if name not in positions]
    if missing:
        raise RejectedFileError(
            source,
            f"нет колонок {', '.join(repr(name) for name in missing)} в первой строке. "
            "Проверьте заголовки отчёта или настройки колонок CSV",
        )
    return positions


def _cell(row: list[str], columns: dict[str, int], header: str | None) -> str | None:
    if header is None:
        return None
    index = columns[header]
    value = row[index].strip() if index < len(row) else ""
    return value or None


def _read_row(result: FileOffers, row_number: int, row: list[str], columns: dict[str, int], csv_format: CsvFormat) -> None:
    if not any(cell.strip() for cell in row):
        return

    onec_id = _cell(row, columns, csv_format.offer_id)
    if onec_id is None:
        result.issues.append(
            InputIssue(
                source=result.source,
                offer=f"строка {row_number}",
                value=None,
                message=f"строка {row_number}: пустой Ид, строка пропущена. Заполните код товара в отчёте",
            )
        )
        return

    try:
        total_text = _cell(row, columns, csv_format.total)
        total = None if total_text is None else parse_quantity(total_text)
        by_warehouse = {}
        for header, warehouse_id in csv_format.warehouses.items():
            text = _cell(row, columns, header)
            if text is not None:
                by_warehouse[warehouse_id] = parse_quantity(text)
    except QuantityError as error:
        issue = quantity_error_issue(result.source, onec_id, error)
        result.issues.append(_with_row(issue, row_number))
        return

    if total is not None and total < 0:
        result.issues.append(_with_row(negative_issue(result.source, onec_id, total, None), row_number))
        total = 0
    for warehouse_id, quantity in by_warehouse.items():
        if quantity < 0:
            result.issues.append(_with_row(negative_issue(result.source, onec_id, quantity, warehouse_id), row_number))
            by_warehouse[warehouse_id] = 0

    article = _cell(row, columns, csv_format.article)
    code = _cell(row, columns, csv_format.code)
    name = _cell(row, columns, csv_format.name)
    result.add((onec_id, article, code, name, total, by_warehouse or None, False))


def _with_row(issue: InputIssue, row_number: int) -> InputIssue:
    return InputIssue(
        source=issue.source,
        offer=issue.offer,
        value=issue.value,
        message=f"строка {row_number}: {issue.message}",
        severity=issue.severity,
    )
