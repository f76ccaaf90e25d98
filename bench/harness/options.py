"""What every benchmark's command line has: a --json file for the figures, and sizes kept within bounds."""

from __future__ import annotations

import argparse


def argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser with --json already on it; the script adds the options of what it measures."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", help="also write the figures to this file")
    return parser


def within(value, lowest, highest):
    """value, raised to lowest or lowered to highest: out-of-range sizes are clamped, not refused."""
    return min(max(value, lowest), highest)
