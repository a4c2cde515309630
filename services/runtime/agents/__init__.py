"""The default agents shipped with the runtime."""

from services.runtime.agents.market import MarketAgent
from services.runtime.domain.agent import AgentRuntime

DEFAULT_AGENTS: tuple[type[AgentRuntime], ...] = (MarketAgent,)

__all__ = ["DEFAULT_AGENTS", "MarketAgent"]
