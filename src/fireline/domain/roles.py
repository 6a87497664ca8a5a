"""Roles, ordered: viewer < responder < manager < admin.

viewer     reads everything
responder  works incidents: declare, acknowledge, update, note, resolve, close
manager    manages teams, services, categories, schedules and policies
admin      manages users, roles, integrations and settings
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class TeamRole(StrEnum):
    MEMBER = "member"
    LEAD = "lead"
