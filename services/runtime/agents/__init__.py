"""The default agents shipped with the runtime."""

from services.runtime.agents.admin import AdminAgent
from services.runtime.agents.analytics import AnalyticsAgent
from services.runtime.agents.content import ContentAgent
from services.runtime.agents.market import MarketAgent
from services.runtime.agents.scheduler import SchedulerAgent
from services.runtime.domain.agent import AgentRuntime

DEFAULT_AGENTS: tuple[type[AgentRuntime], ...] = (
    MarketAgent,
    ContentAgent,
    AnalyticsAgent,
    SchedulerAgent,
    AdminAgent,
)

__all__ = [
    "DEFAULT_AGENTS",
    "AdminAgent",
    "AnalyticsAgent",
    "ContentAgent",
    "MarketAgent",
    "SchedulerAgent",
]
