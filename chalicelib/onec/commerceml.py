"""Streaming reader of CommerceML 2.04-2.10 and 3.1 files (catalog, offers, prices, rests).

Elements are matched by local name, so documents without a namespace and with
`urn:1C.ru:commerceml_2`, `_210` or `_3` read the same way.

How a bad file is kept away from the consumer
---------------------------------------------
Each file is read in one `lxml.etree.iterparse` pass. Its `tag` filter runs in
libxml2, so only goods, offers, warehouse lists and offer packages reach Python
(not the 1.6 million elements of a 100,000-offer file). Every good and offer
is cleared and unlinked from its parent once it is read. Parsed offers do not go to the
consumer at once: they are spooled as compact `marshal` records into a
`SpooledTemporaryFile` (memory up to `SPOOL_MEMORY_BYTES`, then a temp file),
and replayed only after the whole file parsed cleanly. So a file that turns out
to be malformed at its last byte contributes nothing, and a duplicate offer id
found anywhere in the file skips every copy of that id.

A separate validation pass before the parse was measured and not used: on the
100,000-offer file of `bench/commerceml_parse.py` a bare expat pass costs about
a quarter of the CPU time of the whole read. Such a pass would also not find duplicate ids
before the first offer is emitted.

Unsafe XML is rejected before the parse. `sniff_document` runs expat over the
prolog and the first top-level elements and raises on any DOCTYPE, entity
declaration or external reference, with the `defusedxml` exception types. A
DTD can only appear before the root element, and without a DTD a document
cannot declare an entity, so the main pass never meets one. An undeclared
entity reference is a parse error there. The main pass also runs libxml2 with
entity resolution, DTD loading and network access off, as a second guard.
"""

from __future__ import annotations

import marshal
import xml.parsers.expat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import Literal
from typing import BinaryIO

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from lxml import etree
from lxml.etree import _Element as Element

from chalicelib.onec.errors import QuantityError, RejectedFileError
from chalicelib.onec.models import InputIssue

ROOT = "КоммерческаяИнформация"
CATALOG_PARTS = frozenset({"Классификатор", "Каталог"})
OFFER_PACKAGES = frozenset({"ПакетПредложений", "ИзмененияПакетаПредложений"})
DELETED_STATUS = "Удален"
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
SPOOL_BATCH_RECORDS = 1024
SNIFF_CHUNK_BYTES = 64 * 1024

DocumentKind = Literal["catalog", "offers"]

# (onec_id, article, code, name, total, by_warehouse or None, deleted)
OfferRecord = tuple[str, str | None, str | None, str | None, int | None, dict[str, int] | None, bool]
# Goods of the import file by product id: (article, code, name).
Goods = dict[str, tuple[str | None, str | None, str | None]]


# --------------------------------------------------------------------------- quantities


def parse_quantity(text: str) -> int:
    """Parse a 1C quantity into whole units; "12", "12.000" and "12,000" are all 12.

    Raises `QuantityError` for fractional or non-numeric values. Spaces and NBSP
    (thousands separators) are removed, and a decimal comma is read as a dot.
    """
    try:
        return int(text)
    except ValueError:
        pass

    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise QuantityError(text, fractional=False) from None
    if not number.is_finite():
        raise QuantityError(text, fractional=False)
    if number != number.to_integral_value():
        raise QuantityError(text, fractional=True)
    return int(number)


def quantity_error_issue(source: str, offer: str, error: QuantityError) -> InputIssue:
    """Build the error issue for an offer skipped because of an unusable quantity."""
    if error.fractional:
        message = (
            f"дробный остаток {error.value!r}: в Ozon передаются целые штуки, предложение пропущено. "
            "Исправьте количество или единицу измерения товара в 1С"
        )
    else:
        message = f"остаток {error.value!r} не является числом, предложение пропущено. Исправьте количество в 1С"
    return InputIssue(source=source, offer=offer, value=error.value, message=message)


def negative_issue(source: str, offer: str, value: int, warehouse: str | None) -> InputIssue:
    """Build the warning issue for a negative quantity that is pushed as 0."""
    where = "" if warehouse is None else f" на складе {warehouse}"
    return InputIssue(
        source=source,
        offer=offer,
        value=str(value),
        message=f"отрицательный остаток {value}{where}: передан как 0. Исправьте остаток в 1С",
        severity="warning",
    )


# --------------------------------------------------------------------------- spool


@dataclass
class FileOffers:
    """The offers of one file, spooled until the file has been read to the end.

    `only_changes` is the file's `СодержитТолькоИзменения`; None when the file has
    no offers package, True as well when the package does not carry the flag
    (the safe reading: offers it leaves out keep their stock).
    """

    source: str
    only_changes: bool | None = None
    issues: list[InputIssue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _batch: list[OfferRecord] = field(default_factory=list)
    _spool: SpooledTemporaryFile | None = None

    def add(self, record: OfferRecord) -> None:
        onec_id = record[0]
        self.counts[onec_id] = self.counts.get(onec_id, 0) + 1
        self._batch.append(record)
        if len(self._batch) >= SPOOL_BATCH_RECORDS:
            self._flush()

    def _flush(self) -> None:
        # Length-prefixed batches: `marshal.load` on a spooled file reads a few bytes per call.
        if not self._batch:
            return
        if self._spool is None:
            self._spool = SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
        blob = marshal.dumps(self._batch)
        self._spool.write(len(blob).to_bytes(8, "little"))
        self._spool.write(blob)
        self._batch = []

    def report_duplicates(self) -> None:
        """Add one error issue per offer id that occurs more than once in this file."""
        for onec_id, count in self.counts.items():
            if count > 1:
                self.issues.append(
                    InputIssue(
                        source=self.source,
                        offer=onec_id,
                        value=str(count),
                        message=(
                            f"предложение с этим Ид встречается в файле {count} раза, все копии пропущены. "
                            "Уберите дубль в 1С и выгрузите файл заново"
                        ),
                    )
                )

    def records(self) -> Iterator[OfferRecord]:
        """Yield the spooled records in file order, without duplicated ids; close the spool."""
        self._flush()
        if self._spool is None:
            return
        spool, self._spool = self._spool, None
        counts = self.counts
        with spool:
            spool.seek(0)
            while size := int.from_bytes(spool.read(8), "little"):
                for record in marshal.loads(spool.read(size)):
                    if counts[record[0]] == 1:
                        yield record

    def discard(self) -> None:
        self._batch = []
        if self._spool is not None:
            self._spool.close()
            self._spool = None


# --------------------------------------------------------------------------- sniffing


class _SniffDone(Exception):
    """Stop expat once the document kind is known."""


def sniff_document(path: Path, source: str) -> DocumentKind:
    """Check that `path` is a safe CommerceML catalog or offers document and return its kind.

    Reads only up to the first top-level element that decides the kind. `Каталог`
    or a classifier-only document is "catalog", and an offers package is "offers".
    Raises `RejectedFileError` for empty, malformed or unsafe files, another root
    element, or a CommerceML document with neither (for example orders).
    """
    if path.stat().st_size == 0:
        raise RejectedFileError(source, "файл пуст. Выгрузите его из 1С заново")

    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    state = _SniffState(source)
    parser.StartDoctypeDeclHandler = _forbid_doctype
    parser.EntityDeclHandler = _forbid_entity
    parser.UnparsedEntityDeclHandler = _forbid_unparsed_entity
    parser.ExternalEntityRefHandler = _forbid_external
    parser.StartElementHandler = state.start
    parser.EndElementHandler = state.end

    try:
        with path.open("rb") as stream:
            while chunk := stream.read(SNIFF_CHUNK_BYTES):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _SniffDone:
        pass
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as error:
        raise RejectedFileError(
            source,
            f"файл содержит DTD или объявление сущностей ({type(error).__name__}), такие файлы не читаются "
            "из соображений безопасности. Выгрузите файл из 1С штатной обработкой обмена",
        ) from error
    except xml.parsers.expat.ExpatError as error:
        raise _malformed(source, str(error)) from error

    return state.finish()


@dataclass
class _SniffState:
    source: str
    depth: int = 0
    root: str | None = None
    kind: DocumentKind | None = None

    def start(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition("}")[2]
        self.depth += 1
        if self.depth == 1:
            self.root = local
            if local != ROOT:
                raise _SniffDone
        elif self.depth == 2:
            if local in OFFER_PACKAGES:
                self.kind = "offers"
                raise _SniffDone
            if local == "Каталог":
                self.kind = "catalog"
                raise _SniffDone
            if local == "Классификатор":
                # A classifier may precede an offers package in the same file; keep looking.
                self.kind = "catalog"

    def end(self, name: str) -> None:
        self.depth -= 1

    def finish(self) -> DocumentKind:
        if self.root is None:
            raise RejectedFileError(self.source, "в файле нет ни одного элемента. Выгрузите его из 1С заново")
        if self.root != ROOT:
            raise RejectedFileError(
                self.source,
                f"корневой элемент <{self.root}> вместо <{ROOT}>: это не файл обмена CommerceML. "
                "Уберите файл из выгрузки",
            )
        if self.kind is None:
            raise RejectedFileError(
                self.source,
                "это не каталог и не пакет предложений (например, документы заказов): остатков в нём нет. "
                "Уберите файл из выгрузки остатков",
            )
        return self.kind


def _forbid_doctype(name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _forbid_entity(name, is_parameter_entity, value, base, sysid, pubid, notation_name) -> None:  # noqa: ANN001
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _forbid_unparsed_entity(name, base, sysid, pubid, notation_name) -> None:  # noqa: ANN001
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _forbid_external(context, base, sysid, pubid) -> None:  # noqa: ANN001
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


def _malformed(source: str, detail: str) -> RejectedFileError:
    return RejectedFileError(
        source,
        f"файл повреждён или обрезан, XML не читается ({detail}). Выгрузите его из 1С заново",
    )


# --------------------------------------------------------------------------- main pass


def read_commerceml(path: Path, source: str, goods: Goods, warehouses: dict[str, str]) -> FileOffers:
    """Read one CommerceML file that `sniff_document` accepted.

    Adds the file's goods to `goods` and its warehouse definitions to
    `warehouses`, and returns its offers spooled. Raises `RejectedFileError`
    when the XML breaks anywhere in the file; the spool is then discarded.
    """
    reader = _DocumentReader(FileOffers(source), goods, warehouses)
    try:
        with path.open("rb") as stream:
            reader.read(stream)
    except etree.XMLSyntaxError as error:
        reader.result.discard()
        raise _malformed(source, _syntax_detail(error)) from error
    except BaseException:
        reader.result.discard()
        raise

    reader.result.report_duplicates()
    return reader.result


def _syntax_detail(error: etree.XMLSyntaxError) -> str:
    # libxml2 stops at an undefined entity before any element ends, and lxml then raises
    # "no element found (line 0)". The parser's last logged error names the real cause.
    last = error.error_log.last_error
    if error.lineno or last is None:
        return str(error)
    return f"{last.message.strip()}: line {last.line}, column {last.column}"


# Elements whose `end` event reaches Python, in any namespace or none. Warehouse
# definitions are read from their `Склады` list, so that the two `Склад` children
# of every offer do not each cost a Python call.
_EVENT_TAGS = ("{*}Предложение", "{*}Товар", "{*}Склады", *(f"{{*}}{name}" for name in sorted(OFFER_PACKAGES)))
# The sniff pass has already rejected DTDs and entities; these options keep libxml2
# safe on its own too. `huge_tree=False` keeps libxml2's limits on text and depth.
_ITERPARSE_OPTIONS = {
    "events": ("end",),
    "tag": _EVENT_TAGS,
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    # Indentation between elements is never read, and dropping it saves a text node per element.
    "remove_blank_text": True,
}

# Codes of the offer children that carry stock data; other children are skipped.
_ID, _TOTAL, _WAREHOUSE, _ARTICLE, _NAME, _CODE, _RESTS, _STOCKS, _WAREHOUSES, _STATUS, _DELETION, _CHARACTERISTIC = range(1, 13)
_OFFER_FIELDS = {
    "Ид": _ID,
    "Количество": _TOTAL,
    "Склад": _WAREHOUSE,
    "Артикул": _ARTICLE,
    "Наименование": _NAME,
    "Код": _CODE,
    "Остатки": _RESTS,
    "КоличествоНаСкладах": _STOCKS,
    "Склады": _WAREHOUSES,
    "Статус": _STATUS,
    "ПометкаУдаления": _DELETION,
    "ИдХарактеристики": _CHARACTERISTIC,
}


class _DocumentReader:
    """Handles `end` events: goods, warehouse definitions, offers and package flags.

    Full tags are mapped once to a handler (and to an offer field code) and
    looked up per element, because `local` splits a string on every call.
    """

    def __init__(self, result: FileOffers, goods: Goods, warehouses: dict[str, str]) -> None:
        self.result = result
        self.goods = goods
        self.warehouses = warehouses
        self.offer_number = 0
        self.local_names: dict[str, str] = {}
        self.handlers: dict[str, Callable[[Element], None] | None] = {}
        self.field_codes: dict[str, int] = {}

    def local(self, tag: str) -> str:
        name = self.local_names.get(tag)
        if name is None:
            name = tag.rpartition("}")[2]
            self.local_names[tag] = name
        return name

    def read(self, stream: BinaryIO) -> None:
        handlers = self.handlers
        for _, element in etree.iterparse(stream, **_ITERPARSE_OPTIONS):
            tag = element.tag
            try:
                handler = handlers[tag]
            except KeyError:
                handler = handlers[tag] = self.handler_for(self.local(tag))
            if handler is not None:
                handler(element)

    def handler_for(self, local: str) -> Callable[[Element], None] | None:
        if local == "Предложение":
            return self.read_offer
        if local == "Товар":
            return self.read_good
        if local == "Склады":
            return self.read_warehouses
        if local in OFFER_PACKAGES:
            return self.read_package
        return None

    def child_texts(self, element: Element) -> dict[str, str]:
        """Map the local names of `element`'s children to their stripped texts (first wins)."""
        texts: dict[str, str] = {}
        for child in element:
            texts.setdefault(self.local(child.tag), (child.text or "").strip())
        return texts

    def read_good(self, element: Element) -> None:
        texts = self.child_texts(element)
        _release(element)
        good_id = texts.get("Ид")
        if good_id:
            self.goods[good_id] = (texts.get("Артикул") or None, texts.get("Код") or None, texts.get("Наименование") or None)

    def read_warehouses(self, element: Element) -> None:
        for child in element:
            if self.local(child.tag) == "Склад":
                self.read_warehouse(child)

    def read_warehouse(self, element: Element) -> None:
        # Only a definition has a name; `Остатки/Остаток/Склад` and the attribute form do not.
        if not len(element):
            return
        texts = self.child_texts(element)
        warehouse_id = texts.get("Ид")
        name = texts.get("Наименование")
        if warehouse_id and name:
            self.warehouses[warehouse_id] = name

    def read_package(self, element: Element) -> None:
        # Warehouse definitions placed straight in the package, without a `Склады` list.
        self.read_warehouses(element)
        flag = element.get("СодержитТолькоИзменения")
        if flag is None:
            flag = self.child_texts(element).get("СодержитТолькоИзменения")
        # No flag at all: read as a change package, so that absent offers keep their stock.
        self.result.only_changes = flag is None or flag.strip().lower() != "false"

    def field_code(self, tag: str) -> int:
        code = self.field_codes.get(tag)
        if code is None:
            code = self.field_codes[tag] = _OFFER_FIELDS.get(self.local(tag), 0)
        return code

    def read_offer(self, element: Element) -> None:
        self.offer_number += 1
        offer = _OfferFields()
        field_codes = self.field_codes
        for child in element:
            code = field_codes.get(child.tag)
            if code is None:
                code = self.field_code(child.tag)
            # The common fields are read inline: this loop runs for every child of every offer.
            if not code:
                continue
            if code == _ID:
                offer.onec_id = (child.text or "").strip()
            elif code == _TOTAL:
                offer.total_text = child.text or ""
            elif code == _WAREHOUSE:
                offer.add_warehouse(child.get("ИдСклада"), child.get("КоличествоНаСкладе"))
            elif code == _ARTICLE:
                offer.article = (child.text or "").strip() or None
            elif code == _NAME:
                offer.name = (child.text or "").strip() or None
            else:
                self.read_offer_child(offer, code, child)
        _release(element)

        if not offer.onec_id:
            self.result.issues.append(
                InputIssue(
                    source=self.result.source,
                    offer=f"№{self.offer_number}",
                    value=None,
                    message="предложение без Ид пропущено. Проверьте выгрузку в 1С",
                )
            )
            return
        if offer.characteristic:
            offer.onec_id = f"{offer.onec_id}#{offer.characteristic}"
        record = self.to_record(offer)
        if record is not None:
            self.result.add(record)

    def read_offer_child(self, offer: _OfferFields, code: int, child: Element) -> None:
        """Read the less common offer children (`read_offer` reads the frequent ones)."""
        if code == _CODE:
            offer.code = (child.text or "").strip() or None
        elif code == _RESTS:
            self.read_rests(offer, child)
        elif code == _STOCKS:
            for entry in child:
                texts = self.child_texts(entry)
                offer.add_warehouse(texts.get("ИдСклада") or texts.get("Ид"), texts.get("Количество"))
        elif code == _WAREHOUSES:
            # Change packet layout: `Склады/Склад` with the same attributes as the offer form.
            for entry in child:
                offer.add_warehouse(entry.get("ИдСклада"), entry.get("КоличествоНаСкладе"))
        elif code == _STATUS:
            offer.deleted = offer.deleted or (child.text or "").strip() == DELETED_STATUS
        elif code == _DELETION:
            offer.deleted = offer.deleted or (child.text or "").strip().lower() == "true"
        elif code == _CHARACTERISTIC:
            offer.characteristic = (child.text or "").strip() or None

    def read_rests(self, offer: _OfferFields, rests: Element) -> None:
        """Read `Остатки/Остаток/Склад/{Ид,Количество}` and `Остатки/Остаток/Количество`."""
        for rest in rests:
            for part in rest:
                local = self.local(part.tag)
                if local == "Склад":
                    # A named `Склад` here also defines the warehouse, as one under `Склады` does.
                    self.read_warehouse(part)
                    texts = self.child_texts(part)
                    offer.add_warehouse(texts.get("Ид"), texts.get("Количество"))
                elif local == "Количество":
                    offer.total_text = part.text or ""

    def to_record(self, offer: _OfferFields) -> OfferRecord | None:
        """Convert the raw texts to whole quantities, adding issues; None when the offer is skipped."""
        source = self.result.source
        try:
            total = None if offer.total_text is None else parse_quantity(offer.total_text)
            by_warehouse = {warehouse: parse_quantity(text) for warehouse, text in offer.warehouse_texts}
        except QuantityError as error:
            self.result.issues.append(quantity_error_issue(source, offer.onec_id, error))
            return None

        if total is not None and total < 0:
            self.result.issues.append(negative_issue(source, offer.onec_id, total, None))
            total = 0
        for warehouse, quantity in by_warehouse.items():
            if quantity < 0:
                self.result.issues.append(negative_issue(source, offer.onec_id, quantity, warehouse))
                by_warehouse[warehouse] = 0
        return (offer.onec_id, offer.article, offer.code, offer.name, total, by_warehouse or None, offer.deleted)


def _release(element: Element) -> None:
    """Free a read good or offer: clear it and unlink the one read just before it.

    Only a previous sibling with the same tag is unlinked, because only that one
    is known to be read. lxml allows changing the previous siblings during iterparse.
    """
    element.clear(keep_tail=True)
    previous = element.getprevious()
    if previous is not None and previous.tag == element.tag:
        element.getparent().remove(previous)


class _OfferFields:
    """Raw texts of one offer, collected from its children."""

    __slots__ = ("onec_id", "article", "code", "name", "total_text", "warehouse_texts", "deleted", "characteristic")

    def __init__(self) -> None:
        self.onec_id = ""
        self.article: str | None = None
        self.code: str | None = None
        self.name: str | None = None
        self.total_text: str | None = None
        self.warehouse_texts: list[tuple[str, str]] = []
        self.deleted = False
        self.characteristic: str | None = None

    def add_warehouse(self, warehouse_id: str | None, quantity: str | None) -> None:
        # A warehouse entry without an id or a quantity carries no stock; it is ignored.
        if warehouse_id and quantity is not None:
            self.warehouse_texts.append((warehouse_id.strip(), quantity))
