"""ORM models by concept. Importing this package registers every table on `Base.metadata`.

Every module in this package is imported below, so a new concept only adds its own file.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from fireline.store.models.audit import AuditEntry
from fireline.store.models.base import Base
from fireline.store.models.catalog import Category, Service, ServiceDependency
from fireline.store.models.identity import (
    ApiToken,
    LoginFailure,
    Team,
    TeamMember,
    User,
    WebSession,
)
from fireline.store.models.incidents import (
    Incident,
    IncidentLabel,
    IncidentParticipant,
    IncidentService,
)
from fireline.store.models.jobs import Job
from fireline.store.models.system import AppSetting, Counter, IdempotencyRecord
from fireline.store.models.timeline import TimelineEvent

__all__ = [
    "ApiToken",
    "AppSetting",
    "AuditEntry",
    "Base",
    "Category",
    "Counter",
    "IdempotencyRecord",
    "Incident",
    "IncidentLabel",
    "IncidentParticipant",
    "IncidentService",
    "Job",
    "LoginFailure",
    "Service",
    "ServiceDependency",
    "Team",
    "TeamMember",
    "TimelineEvent",
    "User",
    "WebSession",
]

for _module in _pkgutil.iter_modules(__path__):
    _importlib.import_module(f"{__name__}.{_module.name}")
