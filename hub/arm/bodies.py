"""Reading ARM request bodies that a DRF serializer cannot describe well: properties matched
case-insensitively, as ARM does, and every malformed field reported at once with its path."""

from __future__ import annotations

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
