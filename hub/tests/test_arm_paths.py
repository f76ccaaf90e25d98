import pytest

from hub.arm.paths import canonical_arm_path


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/subscriptions/S/resourceGroups/My-RG", "/subscriptions/S/resourcegroups/My-RG"),
        ("/Subscriptions/S/resourcegroups/RG", "/subscriptions/S/resourcegroups/RG"),
        (
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Migrate/migrateProjects/P/registerTool",
            "/subscriptions/S/resourcegroups/RG/providers/microsoft.migrate/migrateprojects/P/registertool",
        ),
        # Names that look like keywords stay as they are: only keyword positions change.
        ("/subscriptions/S/resourceGroups/Providers", "/subscriptions/S/resourcegroups/Providers"),
        (
            "/subscriptions/S/providers/Microsoft.Migrate/migrateProjects",
            "/subscriptions/S/providers/microsoft.migrate/migrateprojects",
        ),
        ("/migrate/servers/", "/migrate/servers/"),
        ("/", "/"),
    ],
)
def test_it_lowercases_keyword_positions_only(given, expected):
    assert canonical_arm_path(given) == expected
