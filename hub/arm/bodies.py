"""Reading ARM request bodies: properties matched case-insensitively, as ARM does, and every malformed
field reported at once with its path. `ArmBody` serializers declare a body once, for the OpenAPI
document and for `read`; `BodyReader` reads one field by field where no declaration fits."""

from __future__ import annotations

from rest_framework import serializers

from hub.arm.errors import ArmError


def json_object(data) -> dict:
    """The request body, which must be a JSON object (400 otherwise)."""
    if not isinstance(data, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return data


class BodyReader:
    """Reads one JSON object of a request body, field by field; every malformed field is remembered
    (with its path) so the 400 lists them all at once."""

    def __init__(self, data, path: str = "", errors: list | None = None):
        # Below a missing or malformed object nothing more is said: its own error covers it.
        self.present = isinstance(data, dict)
        self.data = data if self.present else {}
        self.path = path
        self.errors: list[dict] = [] if errors is None else errors
        # JSON property names are matched case-insensitively, as ARM does.
        self._keys = {str(key).lower(): key for key in self.data}

    @classmethod
    def of(cls, request) -> BodyReader:
        return cls(json_object(request.data))

    def target(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> None:
        self.errors.append({"code": "InvalidParameter", "target": self.target(key), "message": message})

    def raw(self, key: str):
        return self.data.get(self._keys.get(key.lower()))

    def has(self, key: str) -> bool:
        return key.lower() in self._keys and self.raw(key) is not None

    def text(self, key: str, *, required: bool = False, max_length: int = 400) -> str | None:
        value = self.raw(key)
        if value is None:
            if required and self.present:
                self.fail(key, f"'{self.target(key)}' is required.")
            return None
        if not isinstance(value, str):
            self.fail(key, f"'{self.target(key)}' must be a string.")
            return None
        if len(value) > max_length:
            self.fail(key, f"'{self.target(key)}' is longer than {max_length} characters.")
            return None
        return value.strip()

    def integer(self, key: str, *, low: int, high: int) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"'{self.target(key)}' must be a whole number from {low} to {high}.")
            return None
        return value

    def flag(self, key: str, *, default: bool) -> bool:
        """A yes/no: a JSON boolean, or the string "true" or "false" (as ASR's models carry them)."""
        value = self.raw(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if value is not None:
            self.fail(key, f'\'{self.target(key)}\' must be "true" or "false".')
        return default

    def child(self, key: str, *, required: bool = False) -> BodyReader:
        value = self.raw(key)
        if value is None:
            if required and self.present:
                self.fail(key, f"'{self.target(key)}' is required.")
        elif not isinstance(value, dict):
            self.fail(key, f"'{self.target(key)}' must be a JSON object.")
        return BodyReader(value, self.target(key), self.errors)

    def children(self, key: str) -> list[BodyReader] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(key, f"'{self.target(key)}' must be a JSON array.")
            return []
        readers = []
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                self.fail(f"{key}[{index}]", f"'{self.target(key)}[{index}]' must be a JSON object.")
                continue
            readers.append(BodyReader(entry, f"{self.target(key)}[{index}]", self.errors))
        return readers

    def raise_errors(self) -> None:
        if self.errors:
            first = self.errors[0]
            raise ArmError(400, "InvalidRequestContent", first["message"], first["target"], list(self.errors))


# One JSON object of a request body, declared once for the OpenAPI document and for reading it
# (hub.arm.views.validated): its properties are matched case-insensitively and a null one is absent, as
# ARM does. (A comment: a docstring would describe every body in the document.)
class ArmBody(serializers.Serializer):
    def to_internal_value(self, data):
        if isinstance(data, dict):
            names = {name.lower(): name for name in self.fields}
            data = {names.get(str(key).lower(), key): value for key, value in data.items() if value is not None}
        return super().to_internal_value(data)


class Text(serializers.CharField):
    """A string, and only a string (DRF's CharField would take a number), trimmed, at most 400
    characters unless said, and empty allowed: an empty id clears an optional setting."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 400)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Choice(serializers.ChoiceField):
    """One of `choices` in any case, read as the choice is spelled."""

    def to_internal_value(self, data):
        spelled = {str(choice).lower(): choice for choice in self.choices}
        if isinstance(data, str) and data.strip().lower() in spelled:
            return spelled[data.strip().lower()]
        return super().to_internal_value(data)


class TrueOrFalse(Choice):
    """A yes/no as ASR's models carry it: the string "true" or "false" (a JSON boolean too), read as a bool."""

    def __init__(self, **kwargs):
        super().__init__(choices=["true", "false"], **kwargs)

    def to_internal_value(self, data):
        return data if isinstance(data, bool) else super().to_internal_value(data) == "true"


class OneOf(Choice):
    """One of `choices` as the document lists them, where the rule that owns them checks it: a string that
    names none is passed on, for that rule to refuse with its own code."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().lower() not in {str(choice).lower() for choice in self.choices}:
            return data.strip()
        return super().to_internal_value(data)
