"""Checkers of a poolpair fault-injection run (see jepsen/FORMAT.md).

Each checker is a function check(run) -> {"valid": bool, ...}; the
offending operations of a violation are listed under "ops" by their
history index.
"""

from . import (linearizable, liveness, nothing_lost, one_leader, one_owner,
               rto)

CHECKERS = (
    ("linearizable", linearizable.check),
    ("one-owner", one_owner.check),
    ("nothing-lost", nothing_lost.check),
    ("rto", rto.check),
    ("liveness", liveness.check),
    ("one-leader-per-term", one_leader.check),
)
