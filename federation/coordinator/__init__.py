"""The coordinator: nodes and their tokens, interlibrary loan routing along ISO 18626
statuses, deadlines, and the state of the whole network.

The services are plain classes over one SQLite store; the gRPC servicer and the
CLI only translate. The coordinator reaches libraries over gRPC only.
"""

from federation.coordinator.config import CoordinatorConfig
from federation.coordinator.model import Action, LoanRequest, Node, ServiceType, Status
from federation.coordinator.registry import NodeRegistry
from federation.coordinator.service import LoanService, Submission, Timing
from federation.coordinator.store import CoordinatorStore

__all__ = [
    "Action",
    "CoordinatorConfig",
    "CoordinatorStore",
    "LoanRequest",
    "LoanService",
    "Node",
    "NodeRegistry",
    "ServiceType",
    "Status",
    "Submission",
    "Timing",
]
