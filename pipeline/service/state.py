"""What the routers share: one ServiceState per app (on app.state.service), handed to a route as a dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from .config import ServiceConfig
from .executor import Executor, Hub
from .store import JobStore
from .uploads import Limits


@dataclass(frozen=True)
class ServiceState:
    config: ServiceConfig
    store: JobStore
    hub: Hub
    executor: Executor
    limits: Limits


async def service_state(request: Request) -> ServiceState:
    return request.app.state.service


#: A route parameter `svc: Service` receives the app's ServiceState (it adds nothing to the OpenAPI document).
Service = Annotated[ServiceState, Depends(service_state)]
