"""Benchmark of the 1C stock parser on a generated 100,000-offer CommerceML export.

Writes a catalog with `local.catalog`, then runs each case in a fresh child
process, so that `ru_maxrss` is the peak of that case alone:

- `expat`: `xml.parsers.expat` with no handlers over offers.xml, the lower limit;
- `iterparse`: `xml.etree.ElementTree.iterparse` over offers.xml, clearing each
  offer and reading nothing: the floor for any ElementTree-based reader;
- `lxml iterparse`: `lxml.etree.iterparse` over offers.xml with the offer tag
  filter, clearing and unlinking each offer: the floor for the reader;
- `sniff`: the safety pre-pass (`sniff_document`) over import.xml and offers.xml,
  which stops at the first element that decides the document kind;
- `offers.xml`: `read_stock_exchange` on the offers file alone;
- `import.xml + offers.xml`: the same with the goods join.

Time is reported as the best and the median of `--repeat` runs, because other
processes on a shared machine add noise. The CPU seconds of the best run show
how much of its wall time the process really ran. Peak Python heap is measured
in a separate run under `tracemalloc`, which slows parsing, so its time is not reported.

Usage: python -m bench.commerceml_parse [--skus 100000] [--warehouses 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import xml.parsers.expat
from xml.etree.ElementTree import iterparse
from pathlib import Path

from lxml import etree

from chalicelib.onec.commerceml import sniff_document
from chalicelib.onec.reader import read_stock_exchange
from local.catalog import write_catalog

CHUNK_BYTES = 1024 * 1024


def run_case(case: str, paths: list[str], *, trace: bool) -> dict[str, float]:
    """Run one case in this process and return its offer count, wall and CPU seconds and memory peaks in MB."""
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    cpu_started = time.process_time()
    if case == "expat":
        offers = _bare_expat(paths[0])
    elif case == "iterparse":
        offers = _bare_iterparse(paths[0])
    elif case == "lxml iterparse":
        offers = _bare_lxml_iterparse(paths[0])
    elif case == "sniff":
        offers = 0
        for path in paths:
            sniff_document(Path(path), path)
    else:
        exchange = read_stock_exchange(paths)
        offers = sum(1 for _ in exchange.offers())
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started

    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    # ru_maxrss is in kilobytes on Linux.
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"offers": offers, "seconds": seconds, "cpu_seconds": cpu_seconds, "rss_mb": rss_peak, "traced_mb": traced_peak}


def _bare_expat(path: str) -> int:
    parser = xml.parsers.expat.ParserCreate()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return 0


def _bare_iterparse(path: str) -> int:
    offers = 0
    for _, element in iterparse(path, events=("end",)):
        if element.tag.endswith("}Предложение"):
            offers += 1
            element.clear()
    return offers


def _bare_lxml_iterparse(path: str) -> int:
    offers = 0
    with open(path, "rb") as stream:
        for _, element in etree.iterparse(stream, events=("end",), tag="{*}Предложение"):
            offers += 1
            element.clear(keep_tail=True)
            previous = element.getprevious()
            if previous is not None:
                element.getparent().remove(previous)
    return offers


def run_child(case: str, paths: list[str], *, trace: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.commerceml_parse", "--child", case, *paths]
    if trace:
        command.append("--trace")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def measure(case: str, paths: list[str], repeat: int, offer_count: int) -> str:
    runs = [run_child(case, paths, trace=False) for _ in range(repeat)]
    best = min(runs, key=lambda run: run["seconds"])
    median = statistics.median(run["seconds"] for run in runs)
    reference = case in ("expat", "iterparse", "lxml iterparse", "sniff")
    traced = {"traced_mb": 0.0} if reference else run_child(case, paths, trace=True)
    traced_text = "-" if reference else f"{traced['traced_mb']:.1f}"
    # The sniff pass stops near the top of each file, so a rate per offer would mean nothing.
    rates = "- | -" if case == "sniff" else f"{offer_count / best['seconds']:,.0f} | {offer_count / median:,.0f}"
    digits = 4 if case == "sniff" else 2
    return (
        f"| {case} | {best['seconds']:.{digits}f} | {median:.{digits}f} | {best['cpu_seconds']:.2f} "
        f"| {rates} | {best['rss_mb']:.0f} | {traced_text} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Measure the 1C stock parser on a generated CommerceML export.")
    parser.add_argument("--skus", type=int, default=100_000, help="offers in the generated file (default 100000)")
    parser.add_argument("--warehouses", type=int, default=2, help="warehouses per offer (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case; the best and the median are reported (default 3)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_case(args.child, args.paths, trace=args.trace)))
        return

    with tempfile.TemporaryDirectory(prefix="cml-bench-") as folder:
        import_path, offers_path = write_catalog(Path(folder), skus=args.skus, warehouses=args.warehouses)
        size_mb = offers_path.stat().st_size / 2**20
        print(f"offers.xml: {args.skus:,} offers, {args.warehouses} warehouses, {size_mb:.0f} MB; {args.repeat} runs\n")
        print(f"load average before the runs: {' '.join(f'{load:.2f}' for load in os.getloadavg())}\n")
        print("| case | best s | median s | CPU s (best) | offers/s (best) | offers/s (median) | ru_maxrss MB | tracemalloc peak MB |")
        print("|---|---|---|---|---|---|---|---|")
        print(measure("expat", [str(offers_path)], args.repeat, args.skus))
        print(measure("iterparse", [str(offers_path)], args.repeat, args.skus))
        print(measure("lxml iterparse", [str(offers_path)], args.repeat, args.skus))
        print(measure("sniff", [str(import_path), str(offers_path)], args.repeat, args.skus))
        print(measure("offers.xml", [str(offers_path)], args.repeat, args.skus))
        print(measure("import.xml + offers.xml", [str(import_path), str(offers_path)], args.repeat, args.skus))


if __name__ == "__main__":
    main()
