"""Tool definitions and the explicit registry that holds them (no global registry).

A tool is a frozen definition (name, version, JSON Schemas, category, grants) plus an async
function. Who may call it follows from its category (CATEGORY_AGENT_TYPES) and its extra grants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from services.tools.domain.fastcheck import well_formed
from services.tools.domain.validation import SchemaCheck

JSONObject = dict[str, Any]

#: The agent type each tool category belongs to.
CATEGORY_AGENT_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "market": "MARKET",
        "analytics": "ANALYTICS",
        "content": "CONTENT",
        "scheduling": "SCHEDULER",
        "system": "ADMIN",
    }
)
CATEGORIES = tuple(CATEGORY_AGENT_TYPES)
#: The permission (labs_core.auth's role table) a caller's role needs to run a tool of a
#: category, besides being allowed to act as the calling agent type. System tools (health,
#: notifications, bulk changes, SQL) are admin's whichever agent type asks.
CATEGORY_PERMISSIONS: Mapping[str, str] = MappingProxyType(
    {c: "tools.admin" if c == "system" else "tools.invoke" for c in CATEGORIES}
)

#: Schema of a tool that returns any object.
ANY_OBJECT: JSONObject = {"type": "object"}


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Who is calling and on whose behalf: handed to every tool function.

    `actor` and `role` are the authenticated caller (the execution's requester when the runtime
    calls); they, not `agent_type`, decide what the call may do.
    """

    agent_type: str
    execution_id: str = ""
    idempotency_key: str = ""
    actor: str = ""
    role: str = ""


ToolFunction = Callable[[JSONObject, ToolContext], Awaitable[JSONObject]]


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """What a tool is: identity, contract and who may call it. Validated on construction."""

    name: str
    version: str
    description: str
    category: str
    parameters: JSONObject
    result: JSONObject = field(default_factory=lambda: dict(ANY_OBJECT))
    side_effects: bool = False
    extra_agent_types: frozenset[str] = frozenset()
    #: Defaults for the invocation limits; settings may override them per tool.
    timeout_s: float | None = None
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum() or not self.name.islower():
            raise ValueError(f"tool name {self.name!r} must be lower_snake_case")
        if self.category not in CATEGORY_AGENT_TYPES:
            raise ValueError(
                f"tool {self.name}: category {self.category!r} is not one of {', '.join(CATEGORIES)}"
            )
        for what, schema in (("parameters", self.parameters), ("result", self.result)):
            if not well_formed(
                schema
            ):  # beyond the plain subset: the metaschema decides (jsonschema, lazily)
                from jsonschema import Draft202012Validator
                from jsonschema.exceptions import SchemaError

                try:
                    Draft202012Validator.check_schema(schema)
                except SchemaError as e:
                    raise ValueError(
                        f"tool {self.name}: {what} is not a valid JSON Schema: {e.message}"
                    ) from e
            if schema.get("type") != "object":
                raise ValueError(f"tool {self.name}: {what} schema must describe an object")
        object.__setattr__(self, "extra_agent_types", frozenset(t.upper() for t in self.extra_agent_types))

    @property
    def agent_types(self) -> tuple[str, ...]:
        """Every agent type allowed to invoke the tool, sorted."""
        return tuple(sorted({CATEGORY_AGENT_TYPES[self.category], *self.extra_agent_types}))

    @property
    def permission(self) -> str:
        """What the caller's role needs to run this tool (by its category)."""
        return CATEGORY_PERMISSIONS[self.category]

    def allows(self, agent_type: str) -> bool:
        """Whether an agent of this type may invoke the tool."""
        return agent_type.upper() in self.agent_types


@dataclass(frozen=True, slots=True)
class Memo:
    """A read-only tool whose answer is a function of its arguments and of one read model's
    version (a projection's checkpoint) only — not of who calls it: an answer is given again for
    the same arguments while `version()` is unchanged (and, for answers that also depend on the
    clock, while it is younger than `max_age_s`)."""

    version: Callable[[], int]
    max_age_s: float | None = None


@dataclass(frozen=True, slots=True)
class Tool:
    """A registered tool: its definition, its function and its compiled schema checks."""

    definition: ToolDefinition
    execute: ToolFunction
    arguments_check: SchemaCheck
    result_check: SchemaCheck
    memo: Memo | None = None

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.definition.name


class Registry:
    """The tools one process serves. Built by the composition root and passed around."""

    def __init__(self, tools: Iterable[tuple[ToolDefinition, ToolFunction]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for definition, fn in tools:
            self.add(definition, fn)

    def add(self, definition: ToolDefinition, execute: ToolFunction, *, memo: Memo | None = None) -> Tool:
        """Register a definition with its function; a name may be registered once. A `memo`
        lets the invoker give an answer again (see Memo); a tool with side effects has none."""
        if definition.name in self._tools:
            raise ValueError(f"tool {definition.name} registered twice")
        if memo is not None and definition.side_effects:
            raise ValueError(f"tool {definition.name} has side effects: its answers cannot be memoised")
        tool = Tool(
            definition,
            execute,
            SchemaCheck(definition.parameters, root="arguments"),
            SchemaCheck(definition.result, root="result"),
            memo,
        )
        self._tools[definition.name] = tool
        return tool

    def register_tool(
        self,
        *,
        name: str,
        version: str,
        description: str,
        category: str,
        parameters: JSONObject,
        execute: ToolFunction,
        result: JSONObject | None = None,
        side_effects: bool = False,
        agent_types: Iterable[str] = (),
        timeout_s: float | None = None,
        max_concurrency: int | None = None,
    ) -> Tool:
        """Register a tool from keyword arguments (the seed's `register_tool`, on this registry)."""
        definition = ToolDefinition(
            name=name,
            version=version,
            description=description,
            category=category,
            parameters=parameters,
            result=result if result is not None else dict(ANY_OBJECT),
            side_effects=side_effects,
            extra_agent_types=frozenset(agent_types),
            timeout_s=timeout_s,
            max_concurrency=max_concurrency,
        )
        return self.add(definition, execute)

    def tool(self, definition: ToolDefinition) -> Callable[[ToolFunction], ToolFunction]:
        """Decorator form of `add`: `@registry.tool(ToolDefinition(...))`."""

        def decorate(fn: ToolFunction) -> ToolFunction:
            self.add(definition, fn)
            return fn

        return decorate

    def remove(self, name: str) -> Tool | None:
        """Withdraw a tool (a remote tool whose endpoint went away); None if it was not there."""
        return self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        """The tool with that name, if registered."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def list(self, *, category: str = "", agent_type: str = "") -> list[ToolDefinition]:
        """Definitions sorted by name, optionally only one category's or one agent type's."""
        out = []
        for name in sorted(self._tools):
            d = self._tools[name].definition
            if category and d.category != category:
                continue
            if agent_type and not d.allows(agent_type):
                continue
            out.append(d)
        return out
