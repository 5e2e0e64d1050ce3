"""Who is asking: the identity every permission check in the core is made against."""

from __future__ import annotations

import getpass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, Field
from traitlets.config import LoggingConfigurable


class Principal(BaseModel):
    """A user as the core sees them: a name, group memberships, and whether they administer."""

    name: str
    groups: frozenset[str] = Field(default_factory=frozenset)
    admin: bool = False

    def may_use(self, owner: str, shared_groups: list[str] | frozenset[str]) -> bool:
        """Owner, members of a group the object is shared with, and admins may use it."""
        return self.admin or owner == self.name or bool(self.groups & set(shared_groups))

    def may_change(self, owner: str) -> bool:
        """Only the owner and admins may change or delete an object."""
        return self.admin or owner == self.name


def local_principal() -> Principal:
    """In local mode the person running the workbench owns and administers everything."""
    return Principal(name=getpass.getuser(), admin=True)


class PrincipalProvider(LoggingConfigurable):
    """Maps an authenticated request to a :class:`Principal`.

    The local default makes the one user the owner and admin of everything; the team mode
    maps JupyterHub users and groups instead.
    """

    def principal(self, handler: Any) -> Principal:
        return self._local

    @cached_property
    def _local(self) -> Principal:
        # The account a server runs as does not change while it runs; asking for its
        # name may cost a look-up in the password database, on every request.
        return local_principal()
