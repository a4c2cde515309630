"""The agent types this runtime can run: an explicit list handed over at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points

from services.runtime.domain.agent import AgentDefinition, AgentRuntime

ENTRY_POINT_GROUP = "labs.agents"


class AgentRegistry:
    """Agent classes by type. No global state: bootstrap builds one and passes it around."""

    def __init__(self, agents: Iterable[type[AgentRuntime]] = ()) -> None:
        self._agents: dict[str, type[AgentRuntime]] = {}
        for a in agents:
            self.add(a)

    def add(self, agent: type[AgentRuntime]) -> None:
        """Register an agent class; its definition's type must be new."""
        d = agent.definition
        if d.type in self._agents:
            raise ValueError(f"agent type {d.type} registered twice")
        self._agents[d.type] = agent

    def get(self, agent_type: str) -> type[AgentRuntime] | None:
        """The agent class for a type, if known."""
        return self._agents.get(agent_type)

    def definitions(self) -> list[AgentDefinition]:
        """Every definition, sorted by type."""
        return [self._agents[t].definition for t in sorted(self._agents)]

    def types(self) -> list[str]:
        """Every type, sorted."""
        return sorted(self._agents)


def load_agent_class(spec: str) -> type[AgentRuntime]:
    """`package.module:ClassName` -> the class (for AGENT_MODULES and entry points)."""
    module, _, name = spec.partition(":")
    obj = getattr(importlib.import_module(module), name)
    if not (isinstance(obj, type) and issubclass(obj, AgentRuntime)):
        raise TypeError(f"{spec} is not an AgentRuntime subclass")
    return obj


def discover(extra_specs: Iterable[str] = ()) -> list[type[AgentRuntime]]:
    """Custom agents from the `labs.agents` entry point group and from explicit specs."""
    found = [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
    found += [load_agent_class(s) for s in extra_specs if s]
    return found
