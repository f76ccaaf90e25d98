import pytest

from projects.names import PROJECT_RULE, RESOURCE_GROUP_RULE, project_name_problem, resource_group_name_problem
from projects.regions import geography_of_project_location, normalize_location
from projects.roles import BUILTIN_ROLES


@pytest.mark.parametrize("name", ["rg", "rg-migrate", "RG_1.(test)", "a" * 90])
def test_valid_resource_group_names(name):
    assert resource_group_name_problem(name) is None


@pytest.mark.parametrize("name", ["", "ends.", "has space", "a" * 91, "slash/"])
def test_invalid_resource_group_names(name):
    assert resource_group_name_problem(name) == RESOURCE_GROUP_RULE


@pytest.mark.parametrize(
    ("name", "valid"), [("abc", True), ("ab", False), ("a" * 24, True), ("a" * 25, False), ("a_b", False)]
)
def test_project_names(name, valid):
    assert (project_name_problem(name) is None) is valid
    if not valid:
        assert project_name_problem(name) == PROJECT_RULE


def test_locations_normalise_and_map_to_the_tutorials_geographies():
    assert normalize_location("West Central US") == "westcentralus"
    assert geography_of_project_location("northeurope") == "Europe"
    assert geography_of_project_location("centralindia") is None


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("Owner", "Microsoft.Authorization/roleAssignments/write", True),
        ("Contributor", "Microsoft.Migrate/migrateProjects/write", True),
        ("Contributor", "Microsoft.Authorization/roleAssignments/write", False),
        ("Reader", "Microsoft.Migrate/migrateProjects/read", True),
        ("Reader", "Microsoft.Migrate/migrateProjects/write", False),
        ("User Access Administrator", "Microsoft.Authorization/roleAssignments/write", True),
        ("User Access Administrator", "Microsoft.Migrate/migrateProjects/write", False),
        ("Virtual Machine Contributor", "Microsoft.Compute/virtualMachines/write", True),
        ("Virtual Machine Contributor", "microsoft.compute/VIRTUALMACHINES/write", True),
        ("Virtual Machine Contributor", "Microsoft.Migrate/migrateProjects/write", False),
    ],
)
def test_builtin_roles_match_actions_like_azure(role, action, allowed):
    assert BUILTIN_ROLES[role].allows(action) is allowed
