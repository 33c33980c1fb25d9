"""Facts of processes: whether one still runs (what tells a folder a killed harness left, its
name carrying the process id, from one a running harness is still writing), and this one's
umask (the mode a file written whole, then renamed into place, should have)."""
from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's process counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):  # not a process id at all
        return False
    return True


def current_umask() -> int:
    """This process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
