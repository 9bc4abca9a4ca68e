"""`profile-registry doctor`: stored values today's rules refuse, found and repaired.

The bad values are written the way they got into real stores: straight into the database
(rows from before a rule) or through the store, past the service's rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.domain import doctor
from registry.domain.importer import import_yaml
from registry.domain.model import MiddlewareUse
from registry.domain.ports import WriteOptions
from registry.domain.service import RegistryService
from registry.store import open_store
from tests.conftest import FIXTURES, SQL_BACKENDS

AGENT = "middleware.agentmode_config@v1"
BAD = json.dumps("bad\ud800\x00end")[1:-1]  # as the app used to store it: bad\ud800\u0000end


def _poison(store, service: RegistryService) -> None:
    """One of each kind of finding, in registry `default` of the canonical bundle."""
    past_rules = WriteOptions(actor="test")
    # an orphan config slot: no agentmode use with id "gone"
    inventory = store.get_profile("default", "inventory")
    inventory.extensions[AGENT]["instances"]["id:gone"] = {"default_mode": "act"}
    store.update_profile("default", inventory, past_rules)
    # a profile using a middleware this deployment does not know: needs a person
    analyst = store.get_profile("team", "analyst")
    analyst.runtime.middlewares.append(MiddlewareUse("retired"))
    store.update_profile("team", analyst, past_rules)
    # a default naming a profile that is gone
    team = store.get_registry("team")
    team.default_profile_slug = "ghost"
    store.update_registry(team, past_rules)
    # last: a store write of this row would store its repaired reading
    store.db.execute_sql(
        'UPDATE profiles SET data = REPLACE(data, \'"display_name":"Inventory\', '
        f"'\"display_name\":\"{BAD}') WHERE slug = 'inventory'"
    )


@pytest.fixture(params=SQL_BACKENDS)
def poisoned(request, tmp_path):
    from tests.conftest import _open

    store = _open(request.param, tmp_path, request)
    service = RegistryService(store)
    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed")
    _poison(store, service)
    yield store, service
    store.close()


def test_examine_lists_every_kind_of_finding(poisoned):
    _, service = poisoned
    found = {(f.where, f.field, f.fixable) for f in doctor.examine(service)}
    assert found == {
        ("default/inventory", "display_name", True),
        ("default/inventory", f"profile.extensions[{AGENT}].instances", True),
        ("team", "registry.default_profile_slug", True),
        ("team/analyst", "runtime.middlewares[0].name", False),
    }
    # every reader still works meanwhile: the text is read repaired
    assert service.get_profile("default", "inventory").display_name == "bad\ufffd\ufffdend"


def test_repair_writes_each_item_once_as_a_revision_and_leaves_the_manual_ones(poisoned):
    store, service = poisoned
    before = service.get_profile("default", "inventory").metadata.version
    team_before = service.get_registry("team").metadata.version
    done, failed = doctor.repair(service, [f for f in doctor.examine(service) if f.fixable])
    assert failed == []
    assert sorted(done) == [
        f"default/inventory: written as version {before + 1}",
        f"team: written as version {team_before + 1} (default profile analyst)",
    ]
    inventory = service.get_profile("default", "inventory")
    assert inventory.display_name == "bad\ufffd\ufffdend" and inventory.repaired == []
    assert inventory.extensions[AGENT]["instances"] == {"id:primary": {"default_mode": "plan"}}
    [latest, *_] = service.list_revisions("default", "inventory")
    assert latest.actor == "doctor" and latest.version == before + 1
    # the stored row itself is clean now, not just its reading
    row = store.db.execute_sql("SELECT data FROM profiles WHERE slug = 'inventory'").fetchone()
    assert "\\ud800" not in row[0] and "\\u0000" not in row[0]
    remaining = [(f.where, f.field) for f in doctor.examine(service)]
    assert remaining == [("team/analyst", "runtime.middlewares[0].name")]


def test_a_registry_managed_by_a_file_is_reported_not_written(poisoned):
    store, service = poisoned
    team = store.get_registry("team")
    team.managed_by = "seed.yaml"
    store.update_registry(team, WriteOptions(actor="test"))
    findings = [f for f in doctor.examine(service) if f.registry == "team"]
    assert findings and not any(f.fixable for f in findings)
    assert all("managed by seed.yaml: fix it there" in f.message for f in findings)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'registry.db'}"
    env["REGISTRY_INSTANCE_PATH"] = str(tmp_path / "instance")
    return subprocess.run(
        [sys.executable, "-c", "from registry.main import main; main()", "doctor", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_reports_then_fixes(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'registry.db'}")
    service = RegistryService(store)
    import_yaml(service, (FIXTURES / "canonical-bundle.yaml").read_text(), actor="seed")
    store.close()

    clean = _cli(tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "" and "no problems found" in clean.stderr

    store = open_store(f"sqlite:///{tmp_path / 'registry.db'}")
    _poison(store, RegistryService(store))
    store.close()
    report = _cli(tmp_path)
    assert report.returncode == 1
    assert report.stdout.splitlines() == [
        "default/inventory: display_name: holds NUL or a lone surrogate (read as U+FFFD)",
        f"default/inventory: profile.extensions[{AGENT}].instances: "
        "config slots no middleware use reads: id:gone",
        'team: registry.default_profile_slug: names profile "ghost", which does not exist',
        '(manual) team/analyst: runtime.middlewares[0].name: unknown middleware "retired" '
        "(edit the profile)",
    ]
    assert "4 problem(s), 3 repairable" in report.stderr

    fixed = _cli(tmp_path, "--fix")
    assert fixed.returncode == 1  # the unknown middleware is left for a person
    assert "repaired default/inventory: written as version" in fixed.stdout
    assert "repaired team: written as version 3 (default profile analyst)" in fixed.stdout
    assert "1 problem(s) left for a person to fix" in fixed.stderr
    again = _cli(tmp_path)
    assert again.stdout.splitlines() == [
        '(manual) team/analyst: runtime.middlewares[0].name: unknown middleware "retired" '
        "(edit the profile)"
    ]
