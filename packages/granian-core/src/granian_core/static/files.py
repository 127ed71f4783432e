"""The static route table of a worker, and the mapping of a request path to a file.

Matching is on the percent-decoded path, by whole segments: route ``/static`` owns
``/static`` and ``/static/...`` but not ``/staticfoo`` (Granian matches a plain string
prefix there). The most specific route wins. A route owns every request it matches:
a path it cannot serve is a 404, never passed on to the app.

Safety: the candidate path is resolved with ``realpath`` (``..`` and symlinks) and
must stay inside the mount's own real path, compared by whole components; NUL bytes,
directories (without ``dir_to_file``) and anything but a regular file are 404s. The
candidate is also stat'ed as asked, so what the file system itself refuses (``file/``,
``missing/../file``) is a 404 too.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from granian_core.urlpath import after_prefix, unquote_path

from .responses import FileResponder, send_not_found

if TYPE_CHECKING:
    from granian_core.config import ServerConfig
    from granian_core.exchange import HTTPExchange

__all__ = ["StaticFiles", "StaticMount"]

#: A file found for a request: its real path and its ``stat``.
Found = tuple[str, os.stat_result]


class StaticMount:
    """One route and the directory it serves."""

    __slots__ = ("inside", "root", "route")

    def __init__(self, route: str, directory: Path) -> None:
        #: ``b"/static"``; ``b""`` for the root route ``/``.
        self.route = os.fsencode(route.rstrip("/"))
        #: Resolved once per worker: symlinks in the mount's own path are followed here.
        self.root = os.path.realpath(directory)
        #: What every path strictly inside the mount starts with.
        self.inside = os.path.join(self.root, "")

    def remainder(self, path: bytes) -> bytes | None:
        """The part of ``path`` after the route (``b""`` or ``b"/..."``), else ``None``."""
        return after_prefix(path, self.route)

    def contains(self, real_path: str) -> bool:
        return real_path == self.root or real_path.startswith(self.inside)


class StaticFiles:
    """The static routes of a worker: which requests they own, and what to answer."""

    def __init__(
        self, mounts: Iterable[StaticMount], dir_to_file: str | None, expires: int
    ) -> None:
        # Longest route first, so ``/static/img`` is not shadowed by ``/static``; the sort
        # is stable, so among equal routes the first configured one wins.
        self.mounts = tuple(sorted(mounts, key=lambda mount: len(mount.route), reverse=True))
        self.dir_to_file = dir_to_file
        self.responder = FileResponder(expires)
        #: Requests a static route owned, and those answered 404 (for --metrics).
        self.requests = 0
        self.not_found = 0

    @classmethod
    def from_config(cls, config: ServerConfig) -> StaticFiles | None:
        """The table for ``config``, or ``None`` when no mount is configured."""
        pairs = config.resolved_static_paths()
        if not pairs:
            return None
        mounts = [StaticMount(route, directory) for route, directory in pairs]
        return cls(mounts, config.static_path_dir_to_file, config.static_path_expires)

    def match(self, raw_path: bytes) -> tuple[StaticMount, bytes] | None:
        """The mount owning ``raw_path`` and the decoded rest of the path, else ``None``."""
        path = unquote_path(raw_path)
        for mount in self.mounts:
            rest = mount.remainder(path)
            if rest is not None:
                return mount, rest
        return None

    def find(self, mount: StaticMount, rest: bytes) -> Found | None:
        """The regular file ``rest`` names inside ``mount``, or ``None`` (a 404)."""
        if 0 in rest:  # a NUL byte (an int test: see granian_core.urlpath)
            return None
        found = _stat_inside(mount, mount.root + os.fsdecode(rest))
        if found is not None and stat.S_ISDIR(found[1].st_mode):
            if self.dir_to_file is None:
                return None
            found = _stat_inside(mount, os.path.join(found[0], self.dir_to_file))
        if found is None or not stat.S_ISREG(found[1].st_mode):
            return None  # also FIFOs and devices: opening one could block the loop
        return found

    async def serve(self, exchange: HTTPExchange, mount: StaticMount, rest: bytes) -> None:
        """Answer a request a static route owns: the file, a 304, or a 404."""
        self.requests += 1
        found = self.find(mount, rest)
        if found is None:
            self.not_found += 1
            send_not_found(exchange)
            return
        if not await self.responder.send(exchange, *found):
            self.not_found += 1  # gone between finding and opening it: a 404 all the same


def _stat_inside(mount: StaticMount, candidate: str) -> Found | None:
    """``candidate``'s real path and stat if it exists inside ``mount``."""
    try:
        real_path = os.path.realpath(candidate)
        if not mount.contains(real_path):
            return None  # ``..`` or a symlink leading out of the mount
        # The path as asked, not as realpath tidied it: the kernel refuses "file/" and
        # "missing/../file", so a file answers at one URL, not at several.
        return real_path, os.stat(candidate)
    except (OSError, ValueError):  # missing, not a directory, no permission, loop, too long
        return None
