"""What every benchmark's command line has: a --json file for the figures, and sizes kept within bounds.

A script describes its options as a table (`Bounded`, `Passed`) and hands it to
`bench_main`, which parses the command line and runs the benchmark on a fresh hub."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.hub import run_on_fresh_hub


def parse_with_json_option(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the --json option every benchmark has (last, where --help has always shown it), then parse argv."""
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def within(value, lowest, highest):
    """value, raised to lowest or lowered to highest: out-of-range sizes are clamped, not refused."""
    return min(max(value, lowest), highest)


@dataclass(frozen=True)
class Bounded:
    """A number on the command line, clamped to [low, high] and multiplied by `scale` (MiB to bytes, say),
    given to the benchmark's run() as `keyword` (by default the option's own name)."""

    flag: str
    default: int | float
    low: int | float
    high: int | float
    help: str
    keyword: str | None = None
    scale: int = 1

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.flag, type=type(self.default), default=self.default, help=self.help)

    def value(self, args: argparse.Namespace):
        return within(getattr(args, _dest(self.flag)), self.low, self.high) * self.scale


@dataclass(frozen=True)
class Passed:
    """Any other option (`arguments` are argparse's), given to run() as `keyword`, through `convert`."""

    flag: str
    keyword: str
    arguments: dict
    convert: Callable = staticmethod(lambda value: value)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.flag, **self.arguments)

    def value(self, args: argparse.Namespace):
        return self.convert(getattr(args, _dest(self.flag)))


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def bench_main(
    doc: str,
    run: Callable[..., dict],
    report: Callable[[dict], str],
    options: Sequence[Bounded | Passed],
    argv: list[str] | None = None,
    **hub_options,
) -> int:
    """A benchmark script's command: its options (described by the first line of its docstring), then
    run(hub, **their values) on a fresh hub, its report printed and its figures saved (harness.hub)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for option in options:
        option.add_to(parser)
    args = parse_with_json_option(parser, argv)
    values = {option.keyword or _dest(option.flag): option.value(args) for option in options}
    return run_on_fresh_hub(run, report, args.json, **hub_options, **values)
