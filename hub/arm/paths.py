"""ARM resource ids: canonical keyword casing for routing, and builders for the ids we echo."""

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
