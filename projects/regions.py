"""Azure regions and the Azure Migrate geographies (static data, as Azure publishes them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str  # the ARM location, e.g. "westeurope"
    display_name: str
    geography: str


REGIONS = [
    Region("eastus", "East US", "United States"),
    Region("eastus2", "East US 2", "United States"),
    Region("centralus", "Central US", "United States"),
    Region("northcentralus", "North Central US", "United States"),
    Region("southcentralus", "South Central US", "United States"),
    Region("westcentralus", "West Central US", "United States"),
    Region("westus", "West US", "United States"),
    Region("westus2", "West US 2", "United States"),
    Region("westus3", "West US 3", "United States"),
    Region("canadacentral", "Canada Central", "Canada"),
    Region("canadaeast", "Canada East", "Canada"),
    Region("brazilsouth", "Brazil South", "Brazil"),
    Region("northeurope", "North Europe", "Europe"),
    Region("westeurope", "West Europe", "Europe"),
    Region("uksouth", "UK South", "United Kingdom"),
    Region("ukwest", "UK West", "United Kingdom"),
    Region("francecentral", "France Central", "France"),
    Region("germanywestcentral", "Germany West Central", "Germany"),
    Region("switzerlandnorth", "Switzerland North", "Switzerland"),
    Region("norwayeast", "Norway East", "Norway"),
    Region("swedencentral", "Sweden Central", "Sweden"),
    Region("southeastasia", "Southeast Asia", "Asia Pacific"),
    Region("eastasia", "East Asia", "Asia Pacific"),
    Region("japaneast", "Japan East", "Japan"),
    Region("japanwest", "Japan West", "Japan"),
    Region("koreacentral", "Korea Central", "Korea"),
    Region("centralindia", "Central India", "India"),
    Region("southindia", "South India", "India"),
    Region("australiaeast", "Australia East", "Australia"),
    Region("australiasoutheast", "Australia Southeast", "Australia"),
    Region("southafricanorth", "South Africa North", "South Africa"),
    Region("uaenorth", "UAE North", "UAE"),
]
REGIONS_BY_NAME = {region.name: region for region in REGIONS}

# The tutorial's table: where an Azure Migrate project may store its metadata. The target region of
# the migration itself is chosen later, in Discover, and may be any region.
MIGRATE_GEOGRAPHIES: dict[str, list[str]] = {
    "Asia": ["southeastasia"],
    "Europe": ["northeurope", "westeurope"],
    "United States": ["eastus", "westcentralus"],
}
MIGRATE_PROJECT_LOCATIONS = [name for names in MIGRATE_GEOGRAPHIES.values() for name in names]


def normalize_location(value: str) -> str:
    """ARM accepts "West Europe" and "westeurope" alike."""
    return value.replace(" ", "").lower()


def geography_of_project_location(location: str) -> str | None:
    for geography, names in MIGRATE_GEOGRAPHIES.items():
        if location in names:
            return geography
    return None


def region_display_name(location) -> str:
    """ "westeurope" (or "West Europe") -> "West Europe"; an id Migrate Hub does not know stays as it is."""
    text = str(location or "")
    region = REGIONS_BY_NAME.get(normalize_location(text))
    return region.display_name if region else text
