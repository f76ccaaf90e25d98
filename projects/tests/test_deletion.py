"""projects.deletion's own guarantees, whatever the apps above register: a row still referenced
through a protecting key refuses in words (never the database layer's tuple), and a refusal inside a
group deletion reads as Azure's ResourceGroupDeletionBlocked."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from projects import deletion
from projects.models import ResourceGroup, Tenant


def test_a_forgotten_protecting_key_refuses_in_words():
    blocker = Tenant(display_name="Contoso", domain="contoso.example")
    refusing = deletion._still_referenced_refused("Microsoft.Migrate/migrateProjects/p1")
    with pytest.raises(deletion.DeletionRefused) as refused, refusing:
        raise ProtectedError("Cannot delete some instances of model 'X'", {blocker})
    error = refused.value
    assert (error.status, error.code) == (409, "Conflict")
    assert error.message.startswith("Microsoft.Migrate/migrateProjects/p1 cannot be deleted: it is still used by")
    assert "tenant Contoso" in error.message and "{<" not in error.message and "Cannot delete some" not in error.message


def test_a_refusal_reads_as_azures_blocked_group_deletion():
    refused = deletion.DeletionRefused("ServiceResourceNotEmpty", "Stop replication first.", ("Type/vault1",))
    code, message = deletion.group_blocked(ResourceGroup(name="rg-x"), refused)
    assert code == "ResourceGroupDeletionBlocked"
    assert message == (
        "Deletion of resource group 'rg-x' failed as resources with identifiers 'Type/vault1' could not be deleted. "
        "The provisioning state of the resource group will be rolled back. ServiceResourceNotEmpty: Stop "
        "replication first."
    )
