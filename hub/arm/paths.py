"""ARM resource ids: canonical keyword casing for routing, and reading the ids a request body names."""

from __future__ import annotations

ARM_ROOTS = ("subscriptions", "providers")


def canonical_arm_path(path: str) -> str:
    """Lower-case the keyword positions of an ARM path, leaving names untouched.

    An ARM path alternates keyword/name pairs (`subscriptions/{id}/resourceGroups/{name}`), except
    that `providers` is followed by a namespace and then by type/name pairs again. A trailing action
    (`registerTool`) sits at a keyword position, so it is lower-cased too.
    """
    parts = path.split("/")
    if len(parts) < 2 or parts[1].lower() not in ARM_ROOTS:
        return path
    keyword_next = True
    namespace_next = False
    for index in range(1, len(parts)):
        segment = parts[index]
        if namespace_next:
            parts[index] = segment.lower()
            namespace_next = False
            keyword_next = True
        elif keyword_next:
            parts[index] = segment.lower()
            namespace_next = parts[index] == "providers"
            keyword_next = False
        else:
            keyword_next = True
    return "/".join(parts)


def id_parts(arm_id: str, resource_type: str | None = None) -> tuple[str, str, str | None] | None:
    """(subscription, resource group, name) of `/subscriptions/{s}/resourceGroups/{rg}[/providers/
    {Namespace}/{type}/{name}]`, keywords in any case; None when it is not that shape."""
    parts = [part for part in arm_id.strip().split("/") if part]
    lowered = [part.lower() for part in parts]
    if len(parts) < 4 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups":
        return None
    if resource_type is None:
        return (parts[1], parts[3], None) if len(parts) == 4 else None
    namespace, type_name = resource_type.lower().split("/")
    if len(parts) != 8 or lowered[4:7] != ["providers", namespace, type_name.lower()]:
        return None
    return parts[1], parts[3], parts[7]


def last_segment(value: str) -> str:
    """The name at the end of an ARM id (or the value itself when it is a bare name)."""
    return value.rstrip("/").rsplit("/", 1)[-1]
