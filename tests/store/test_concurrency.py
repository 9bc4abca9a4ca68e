"""No lost update across processes: each conditional write either gets a unique new
version or a version conflict, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from registry.domain.errors import VersionConflict
from registry.domain.model import Profile, Registry
from registry.domain.ports import WriteOptions
from registry.store import open_store

PROCESSES = 4
ATTEMPTS = 100
REGISTRY, SLUG = "default", "hot"


def _writer(url: str, worker: int, conditional: bool, start, results) -> None:
    """One process: ATTEMPTS read-then-write cycles on the same profile."""
    store = open_store(url)
    ok: list[int] = []
    conflicts = 0
    try:
        start.wait(timeout=60)
        for attempt in range(ATTEMPTS):
            profile = store.get_profile(REGISTRY, SLUG)
            profile.display_name = f"w{worker}-{attempt}"
            expected = profile.metadata.version if conditional else 0
            try:
                written = store.update_profile(
                    REGISTRY, profile, WriteOptions(expected_version=expected, actor=f"w{worker}")
                )
            except VersionConflict:
                conflicts += 1
            else:
                ok.append(written.metadata.version)
        results.put((worker, ok, conflicts, ""))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((worker, ok, conflicts, repr(exc)))
    finally:
        store.close()


def _run(url: str, conditional: bool) -> tuple[list[int], int]:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_writer, args=(url, n, conditional, start, results))
        for n in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [(worker, error) for worker, _, _, error in outcomes if error]
    assert errors == [], errors
    versions = [v for _, ok, _, _ in outcomes for v in ok]
    return versions, sum(conflicts for _, _, conflicts, _ in outcomes)


@pytest.mark.slow
def test_no_lost_update_with_expected_versions(sql_store) -> None:
    sql_store.create_registry(Registry(slug=REGISTRY), WriteOptions())
    initial = sql_store.create_profile(REGISTRY, Profile(slug=SLUG), WriteOptions())
    versions, conflicts = _run(sql_store.url, conditional=True)

    assert len(versions) == len(set(versions)), "two writers got the same version"
    assert len(versions) + conflicts == PROCESSES * ATTEMPTS
    final = sql_store.get_profile(REGISTRY, SLUG)
    assert final.metadata.version == initial.metadata.version + len(versions)
    assert sorted(versions) == list(range(2, final.metadata.version + 1))
    revisions = sql_store.list_revisions(REGISTRY, SLUG, limit=1000)
    assert len(revisions) == len(versions) + 1


@pytest.mark.slow
def test_unconditional_writes_all_land_with_unique_versions(sql_store) -> None:
    sql_store.create_registry(Registry(slug=REGISTRY), WriteOptions())
    sql_store.create_profile(REGISTRY, Profile(slug=SLUG), WriteOptions())
    versions, conflicts = _run(sql_store.url, conditional=False)

    assert conflicts == 0
    assert sorted(versions) == list(range(2, PROCESSES * ATTEMPTS + 2))
    assert sql_store.get_profile(REGISTRY, SLUG).metadata.version == PROCESSES * ATTEMPTS + 1
