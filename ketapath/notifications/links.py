"""The hook through which the outbox asks for a patient link at sending time.

The portal app (above notifications in the app graph) registers its minter when it loads;
the outbox calls it with the message being sent and puts the returned address into the
text it sends, never into the stored body.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from ketapath.notifications.models import Message


@dataclass(frozen=True)
class MintedLink:
    id: UUID
    url: str
    expires_at: datetime


LinkMinter = Callable[["Message"], MintedLink]
_minter: list[LinkMinter] = []


def register_link_minter(minter: LinkMinter) -> None:
    _minter[:] = [minter]


def mint_link(message: "Message") -> MintedLink:
    if not _minter:
        raise RuntimeError("No patient-link minter is registered (is the portal app installed?).")
    return _minter[0](message)
