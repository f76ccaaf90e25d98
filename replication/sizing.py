"""Azure VM sizes and "Automatically select matching configuration" (Replicate > Compute > VM size).

The catalogue holds real sizes (vCPUs, memory and data-disk limits from Azure's size pages; NIC
limits and the price order are approximations kept as data). Matching follows Azure Migrate's
as-on-premises sizing: keep the sizes that meet the server's cores, memory, data-disk count and NIC
count (and Premium SSD support when a disk asks for it), then take the cheapest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VmSize:
    name: str
    cores: int
    memory_gib: float
    max_data_disks: int
    max_nics: int
    premium_storage: bool
    price_rank: int  # lower is cheaper; an approximation for ordering only
    burstable: bool = False


# (name, vCPU, GiB, data disks, NICs, Premium SSD, price rank)
_CATALOGUE = [
    ("Standard_B1s", 1, 1, 2, 2, True, 1),
    ("Standard_B1ms", 1, 2, 2, 2, True, 2),
    ("Standard_B2s", 2, 4, 4, 3, True, 3),
    ("Standard_F2s_v2", 2, 4, 4, 2, True, 4),
    ("Standard_D2s_v5", 2, 8, 4, 2, True, 5),
    ("Standard_D2s_v3", 2, 8, 4, 2, True, 6),
    ("Standard_D2_v3", 2, 8, 4, 2, False, 7),
    ("Standard_B2ms", 2, 8, 4, 3, True, 8),
    ("Standard_E2s_v5", 2, 16, 4, 2, True, 9),
    ("Standard_E2s_v3", 2, 16, 4, 2, True, 10),
    ("Standard_F4s_v2", 4, 8, 8, 2, True, 11),
    ("Standard_D4s_v5", 4, 16, 8, 2, True, 12),
    ("Standard_D4s_v3", 4, 16, 8, 2, True, 13),
    ("Standard_B4ms", 4, 16, 8, 4, True, 14),
    ("Standard_E4s_v5", 4, 32, 8, 2, True, 15),
    ("Standard_E4s_v3", 4, 32, 8, 2, True, 16),
    ("Standard_F8s_v2", 8, 16, 16, 4, True, 17),
    ("Standard_D8s_v5", 8, 32, 16, 4, True, 18),
    ("Standard_D8s_v3", 8, 32, 16, 4, True, 19),
    ("Standard_B8ms", 8, 32, 16, 4, True, 20),
    ("Standard_E8s_v5", 8, 64, 16, 4, True, 21),
    ("Standard_F16s_v2", 16, 32, 32, 4, True, 22),
    ("Standard_D16s_v5", 16, 64, 32, 8, True, 23),
]
SIZES = [
    VmSize(name, cores, memory, disks, nics, premium, rank, burstable=name.startswith("Standard_B"))
    for name, cores, memory, disks, nics, premium, rank in _CATALOGUE
]
SIZES_BY_NAME = {size.name.lower(): size for size in SIZES}


def fits(size: VmSize, *, cores: int, memory_gib: float, data_disks: int, nics: int, premium: bool) -> list[str]:
    """What a size lacks for a server (empty when it fits), in words naming the limit."""
    lacks = []
    if size.cores < cores:
        lacks.append(f"{size.name} has {size.cores} vCPUs; the server has {cores} cores")
    if size.memory_gib < memory_gib:
        lacks.append(f"{size.name} has {size.memory_gib:g} GiB of memory; the server has {memory_gib:g} GiB")
    if size.max_data_disks < data_disks:
        lacks.append(f"{size.name} takes at most {size.max_data_disks} data disks; {data_disks} are selected")
    if size.max_nics < nics:
        lacks.append(f"{size.name} takes at most {size.max_nics} network adapters; the server has {nics}")
    if premium and not size.premium_storage:
        lacks.append(f"{size.name} cannot use Premium SSD disks")
    return lacks


def closest_match(
    *, cores: int, memory_gib: float, data_disks: int, nics: int = 1, premium: bool = False
) -> VmSize | None:
    """The cheapest size meeting every need; burstable (B-series) sizes only for a tiny server (a
    steady workload on a burstable size runs out of credits). None when nothing fits."""
    tiny = cores <= 1 and memory_gib <= 2
    candidates = [
        size
        for size in SIZES
        if (tiny or not size.burstable)
        and not fits(size, cores=cores, memory_gib=memory_gib, data_disks=data_disks, nics=nics, premium=premium)
    ]
    return min(candidates, key=lambda size: size.price_rank, default=None)
