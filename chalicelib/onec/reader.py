"""Read the stock of one 1C exchange: its CommerceML files and CSV stock lists.

Order of work: every XML file is first sniffed for safety, root element and kind.
Catalog files are read next, because they define warehouses and the goods'
article, code and name. Offers, prices and rests files and CSV lists follow. Each file is spooled and kept
only if it was read to the end (see `chalicelib.onec.commerceml`). The offers of
all files are then merged into one `StockOffer` per 1C offer id.

Missing quantity: when an offer has neither `Количество` nor warehouse data, it
gets total 0 if every file that lists it is a full package, because old 1C
exchanges omit the node when the stock is zero. In a change package such an
offer carries no stock information and is skipped. One warning per file counts
the skipped offers. A package without the `СодержитТолькоИзменения` flag is read
as a change package.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chalicelib.onec.commerceml import FileOffers, Goods, OfferRecord, read_commerceml, sniff_document
from chalicelib.onec.csv_export import CsvFormat, read_csv
from chalicelib.onec.errors import RejectedFileError
from chalicelib.onec.models import InputIssue, StockExchange, StockOffer

logger = logging.getLogger(__name__)

XML_SUFFIX = ".xml"
CSV_SUFFIX = ".csv"


@dataclass(frozen=True)
class _Source:
    path: Path
    name: str


def read_stock_exchange(paths: Sequence[str | Path], *, csv_format: CsvFormat | None = None) -> StockExchange:
    """Prepare the stock of one exchange; the files are read when `offers()` is iterated.

    `paths` are the files of the exchange, or a single folder whose `*.xml` and
    `*.csv` files (recursively) form the exchange. CSV files need `csv_format`.
    """
    exchange = StockExchange(only_changes=True, warehouses={})
    exchange._offers = _stream(exchange, _sources(paths), csv_format)
    return exchange


def _sources(paths: Sequence[str | Path]) -> list[_Source]:
    if len(paths) == 1 and Path(paths[0]).is_dir():
        folder = Path(paths[0])
        files = sorted(
            path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in (XML_SUFFIX, CSV_SUFFIX)
        )
        return [_Source(path, path.relative_to(folder).as_posix()) for path in files]
    return [_Source(Path(path), str(path)) for path in paths]


def _stream(exchange: StockExchange, sources: list[_Source], csv_format: CsvFormat | None) -> Iterator[StockOffer]:
    catalogs, offer_files = _classify(exchange, sources, csv_format)
    goods: Goods = {}
    results: list[FileOffers] = []

    for source in catalogs + offer_files:
        result = _read_file(exchange, source, goods, csv_format)
        if result is not None:
            exchange.issues.extend(result.issues)
            results.append(result)

    packages = [result.only_changes for result in results if result.only_changes is not None]
    exchange.only_changes = not packages or any(packages)
    yield from _merge(exchange, results, goods)


def _classify(
    exchange: StockExchange, sources: list[_Source], csv_format: CsvFormat | None
) -> tuple[list[_Source], list[_Source]]:
    """Split the files into catalogs and offer files; reject the ones that are neither."""
    catalogs: list[_Source] = []
    offer_files: list[_Source] = []
    for source in sources:
        try:
            if source.path.suffix.lower() == CSV_SUFFIX:
                if csv_format is None:
                    raise RejectedFileError(
                        source.name, "для CSV не заданы колонки (CsvFormat). Укажите формат CSV в настройках"
                    )
                offer_files.append(source)
            elif sniff_document(source.path, source.name) == "catalog":
                catalogs.append(source)
            else:
                offer_files.append(source)
        except RejectedFileError as error:
            _reject(exchange, error)
        except OSError as error:
            _reject(exchange, RejectedFileError(source.name, f"файл не открывается ({error.strerror})"))
    return catalogs, offer_files


def _read_file(
    exchange: StockExchange, source: _Source, goods: Goods, csv_format: CsvFormat | None
) -> FileOffers | None:
    try:
        if source.path.suffix.lower() == CSV_SUFFIX:
            assert csv_format is not None  # `_classify` rejects CSV files without a format
            return read_csv(source.path, source.name, csv_format)
        return read_commerceml(source.path, source.name, goods, exchange.warehouses)
    except RejectedFileError as error:
        _reject(exchange, error)
    except OSError as error:
        _reject(exchange, RejectedFileError(source.name, f"файл не открывается ({error.strerror})"))
    return None


def _reject(exchange: StockExchange, error: RejectedFileError) -> None:
    logger.warning("1C file rejected: %s", error)
    exchange.rejected_sources.add(error.source)
    exchange.issues.append(
        InputIssue(source=error.source, offer=None, value=None, message=f"файл не принят: {error.reason}")
    )


# --------------------------------------------------------------------------- merging


@dataclass
class _Merged:
    """One offer id's data over several files; later files (in read order) win field by field.

    `order` is the position of the last file merged in, in the exchange's read order.
    """

    onec_id: str
    article: str | None
    code: str | None
    name: str | None
    total: int | None
    by_warehouse: dict[str, int] | None
    deleted: bool
    source: str
    full: bool
    order: int = 0

    def as_record(self) -> OfferRecord:
        return (self.onec_id, self.article, self.code, self.name, self.total, self.by_warehouse, self.deleted)

    def update(self, record: OfferRecord, source: str, full: bool) -> None:
        _, article, code, name, total, by_warehouse, deleted = record
        self.article = article or self.article
        self.code = code or self.code
        self.name = name or self.name
        if total is not None or by_warehouse:
            self.source = source
        if total is not None:
            self.total = total
        if by_warehouse:
            self.by_warehouse = {**(self.by_warehouse or {}), **by_warehouse}
        self.deleted = self.deleted or deleted
        self.full = self.full and full


def _merge(exchange: StockExchange, results: list[FileOffers], goods: Goods) -> Iterator[StockOffer]:
    """Yield one offer per id over all files.

    The file with the most offers is streamed from its spool. The others are held
    in a dict by id (memory grows with their offer count) and joined as it passes.
    """
    results = [result for result in results if result.counts]
    if not results:
        return

    streamed = max(results, key=lambda result: len(result.counts))
    held: dict[str, _Merged] = {}
    for order, result in enumerate(results):
        if result is not streamed:
            _hold(held, result, order)

    skipped: dict[str, list[str]] = {}
    full = streamed.only_changes is False
    order = results.index(streamed)
    for record in streamed.records():
        earlier = held.pop(record[0], None) if held else None
        if earlier is None:
            offer = _finish(record, streamed.source, full, goods, skipped)
        else:
            offer = _finish_merged(_combine(earlier, record, streamed.source, full, order), goods, skipped)
        if offer is not None:
            yield offer

    for merged in held.values():
        offer = _finish_merged(merged, goods, skipped)
        if offer is not None:
            yield offer
    exchange.issues.extend(_skipped_issues(skipped))


def _combine(earlier: _Merged, record: OfferRecord, source: str, full: bool, order: int) -> _Merged:
    """Merge a streamed record with the held data of the same id, the later file winning."""
    if earlier.order < order:
        earlier.update(record, source, full)
        return earlier
    merged = _Merged(*record, source=source, full=full, order=order)
    merged.update(earlier.as_record(), earlier.source, earlier.full)
    return merged


def _hold(held: dict[str, _Merged], result: FileOffers, order: int) -> None:
    full = result.only_changes is False
    for record in result.records():
        earlier = held.get(record[0])
        if earlier is None:
            held[record[0]] = _Merged(*record, source=result.source, full=full, order=order)
        else:
            earlier.update(record, result.source, full)
            earlier.order = order


def _finish_merged(merged: _Merged, goods: Goods, skipped: dict[str, list[str]]) -> StockOffer | None:
    return _finish(merged.as_record(), merged.source, merged.full, goods, skipped)


def _finish(
    record: OfferRecord, source: str, full: bool, goods: Goods, skipped: dict[str, list[str]]
) -> StockOffer | None:
    """Fill missing article, code and name from the good; apply the missing-quantity rule."""
    onec_id, article, code, name, total, by_warehouse, deleted = record
    if total is None and not by_warehouse and not deleted:
        if not full:
            skipped.setdefault(source, []).append(onec_id)
            return None
        total = 0

    if article is None or code is None or name is None:
        good = goods.get(onec_id) or goods.get(onec_id.partition("#")[0])
        if good is not None:
            article = article or good[0]
            code = code or good[1]
            name = name or good[2]

    return StockOffer(
        onec_id=onec_id,
        article=article,
        code=code,
        name=name,
        total=total,
        by_warehouse=by_warehouse or {},
        source=source,
        deleted=deleted,
    )


def _skipped_issues(skipped: dict[str, list[str]]) -> Iterator[InputIssue]:
    for source, offer_ids in skipped.items():
        yield InputIssue(
            source=source,
            offer=None if len(offer_ids) > 1 else offer_ids[0],
            value=str(len(offer_ids)),
            message=(
                f"{len(offer_ids)} предложений без количества в пакете изменений (например, {offer_ids[0]}): "
                "их остатки не меняются. Чтобы передать остатки, включите выгрузку остатков в обмене 1С"
            ),
            severity="warning",
        )
