"""Profiles an import plan holds until it is applied, packed per registry.

A profile as objects is about 3 KB; an import into a new store planned 100,000 of them before
writing the first. Pickled together, one registry's profiles take about 500 bytes each and
cost about 15 us each to pack and unpack. The bytes never leave the process: they are made
here from profiles the plan validated, and read back only here (never from outside input).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

from .model import Profile


class Pack:
    """The profiles of one registry's plan: filled, sealed (pickled), then read back whole
    (kept once loaded, for the diffs of a plan shown item by item) or loaded once by the
    apply (`keep=False`)."""

    __slots__ = ("_profiles", "_blob", "_loaded")

    def __init__(self) -> None:
        self._profiles: list[Profile] | None = []
        self._blob = b""
        self._loaded: list[Profile] | None = None

    def add(self, profile: Profile) -> PackedProfile:
        assert self._profiles is not None, "a sealed pack takes no more profiles"
        self._profiles.append(profile)
        return PackedProfile(self, len(self._profiles) - 1, profile.slug, bool(profile.stack))

    def seal(self) -> None:
        """Pickle what was added and drop the objects: from now on they are read back."""
        if self._profiles is not None:
            self._blob = pickle.dumps(self._profiles, protocol=pickle.HIGHEST_PROTOCOL)
            self._profiles = None

    def load(self, *, keep: bool = True) -> list[Profile]:
        if self._profiles is not None:
            return self._profiles  # not sealed yet
        if self._loaded is not None:
            return self._loaded
        profiles: list[Profile] = pickle.loads(self._blob)  # noqa: S301 - made by seal()
        if keep:
            self._loaded = profiles
        return profiles

    def release(self) -> None:
        """Forget the profiles read back (the pack can read them again)."""
        self._loaded = None


@dataclass(slots=True, frozen=True)
class PackedProfile:
    """One profile of a `Pack`, with what a plan asks of it without unpacking."""

    pack: Pack
    index: int
    slug: str
    stacked: bool  # it has a stack (the plan checks the topology of those)

    def load(self) -> Profile:
        return self.pack.load()[self.index]
