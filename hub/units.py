"""Data amounts as the Azure portal shows them: decimal units (1 KB = 1,000 bytes, 1 GB = 10^9 bytes),
the same on every page, so a disk, the data transferred and the throughput read alike."""

from __future__ import annotations

DECIMAL_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def decimal_size(byte_count) -> str:
    """ "0 B", "512 B", "16 MB", "1.5 GB": three significant figures at most, no trailing ".0"."""
    value = float(byte_count or 0)
    if value < 0:
        return "-" + decimal_size(-value)
    unit = 0
    while value >= 999.5 and unit < len(DECIMAL_UNITS) - 1:
        value /= 1000
        unit += 1
    if unit == 0:
        return f"{int(round(value))} B"
    text = f"{value:.0f}" if value >= 99.95 else f"{value:.1f}".removesuffix(".0")
    return f"{text} {DECIMAL_UNITS[unit]}"


def decimal_rate(bytes_per_second) -> str:
    """A throughput: "0 B/s", "4.2 MB/s"."""
    return f"{decimal_size(bytes_per_second)}/s"


def gigabytes(byte_count) -> float:
    """A disk's size in decimal GB, to one decimal, as the portal's disk columns show it."""
    return round((byte_count or 0) / 1e9, 1)
