"""Bad 1C input on the local stack: a rejected file pushes nothing, the rest goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.onec.reader import read_stock_exchange
from local.catalog import write_change_package

pytestmark = pytest.mark.integration

MARKER = 987_654  # a quantity no generated catalog uses


def test_cut_off_file_pushes_nothing(stack_factory, catalog):
    # GIVEN a valid catalog and a change package for five of its offers, cut off mid-document
    files = catalog(200)
    target = list(read_stock_exchange(files).offers())[:5]
    broken = write_change_package(files[0].parent, {offer.onec_id: MARKER for offer in target},
                                  name="offers_changes.xml")
    broken.write_bytes(broken.read_bytes()[:-60])
    stack = stack_factory(clock_speed=20)
    stack.seed_sandbox(files)

    # WHEN the exchange with all three files is synced
    report = stack.sync(files + [broken], timeout=180)

    # THEN every pair holds the valid file's value, the marker was never applied,
    # and the journal names the rejected file
    checks = stack.check_pairs(files, report.failures)
    assert [c for c in checks if not c.matches] == []
    applied = [value for values in stack.sandbox.history().values() for _, value in values]
    assert MARKER not in applied
    rejected = [p for p in report.input_problems if p.offer is None and p.severity == "error"]
    assert [p.source for p in rejected] == ["offers_changes.xml"]


def test_bad_rows_skip_only_themselves(stack_factory, tmp_path: Path):
    # GIVEN a windows-1251 CSV export with a duplicate id, a fractional and a negative quantity
    rows = [
        "Ид;Артикул;Наименование;Количество",
        "g1;HC-1;Гель для стирки 1 л;12",
        "g2;HC-2;Средство для посуды;3,0",
        "g3;HC-3;Отбеливатель;2,5",
        "g4;HC-4;Чистящий порошок;-4",
        "g5;HC-5;Кондиционер;7",
        "g5;HC-5;Кондиционер;8",
        "g6;HC-6;Мыло жидкое;оп",
    ]
    export = tmp_path / "rests.csv"
    export.write_bytes("\r\n".join(rows).encode("windows-1251"))
    stack = stack_factory(clock_speed=20, environment={"CSV_FORMAT": '{"code": null}'})
    stack.sandbox.seed([f"HC-{i}" for i in range(1, 7)])

    # WHEN it is synced
    report = stack.sync([export], timeout=180)

    # THEN the good rows are pushed, the negative one as 0, and each bad row is named
    stocks = {offer_id: row.free for (offer_id, _), row in stack.sandbox.stocks().items()}
    assert stocks["HC-1"] == 12
    assert stocks["HC-2"] == 3
    assert stocks["HC-4"] == 0
    assert report.items_applied == 3
    named = {p.offer for p in report.input_problems}
    assert {"g3", "g4", "g5", "g6"} <= named
