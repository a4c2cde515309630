"""JSON Schema (Draft 2020-12) checks that name every failing field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from services.tools.domain.errors import FieldViolation
from services.tools.domain.fastcheck import compile_predicate, date_time_conforms, well_formed

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator


def field_path(root: str, path: Iterable[Any]) -> str:
    """A request field path: `arguments.filters[2].name` style."""
    out = root
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _conforms(value: Any, fmt: str) -> bool:
    """The format checker of jsonschema: date-time without importing it, any other format through it."""
    if fmt == "date-time":
        return date_time_conforms(value)
    from jsonschema import Draft202012Validator

    return bool(Draft202012Validator.FORMAT_CHECKER.conforms(value, fmt))


class SchemaCheck:
    """A compiled schema; `violations` lists every failing field, sorted by path."""

    def __init__(self, schema: dict[str, Any], *, root: str) -> None:
        self.schema = schema
        self.root = root
        self._validator: Validator | None = None
        #: Compiled once: answers "valid?" in plain Python; jsonschema (imported on first need, ~9 MB)
        #: only explains a failure, or validates schemas beyond the compiled subset.
        self._fast = compile_predicate(schema, _conforms) if well_formed(schema) else None

    @property
    def validator(self) -> Validator:
        """The jsonschema validator (Draft 2020-12 with its format checker), built on first use."""
        if self._validator is None:
            from jsonschema import Draft202012Validator

            self._validator = Draft202012Validator(
                self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return self._validator

    @property
    def compiled(self) -> bool:
        """Whether valid instances are recognised by the compiled predicate (no jsonschema call)."""
        return self._fast is not None

    def violations(self, instance: Any) -> list[FieldViolation]:
        """Every violation of the schema by `instance` (empty when valid)."""
        if self._fast is not None and self._fast(instance):
            return []
        found: dict[tuple[str, str], None] = {}
        for err in self.validator.iter_errors(instance):
            for v in self._explain(err):
                found[(v.field, v.reason)] = None
        return sorted((FieldViolation(f, r) for f, r in found), key=lambda v: (v.field, v.reason))

    def _explain(self, err: ValidationError) -> list[FieldViolation]:
        at = list(err.absolute_path)
        # `required` and `additionalProperties` fail on the parent object; name the child instead.
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [p for p in err.validator_value if p not in err.instance]
            return [FieldViolation(field_path(self.root, [*at, p]), "is required") for p in missing]
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = set((err.schema or {}).get("properties", {})) if isinstance(err.schema, dict) else set()
            extra = [k for k in err.instance if k not in known]
            if extra:
                return [
                    FieldViolation(field_path(self.root, [*at, k]), "is not a known field") for k in extra
                ]
        return [FieldViolation(field_path(self.root, at), err.message)]
