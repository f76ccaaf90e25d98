"""What every benchmark's command line has: a --json file for the figures, and sizes kept within bounds."""

from __future__ import annotations

import argparse


def parse_with_json_option(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the --json option every benchmark has (last, where --help has always shown it), then parse argv."""
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args(argv)


def within(value, lowest, highest):
    """value, raised to lowest or lowered to highest: out-of-range sizes are clamped, not refused."""
    return min(max(value, lowest), highest)
