"""`profile-registry import --mode mirror`: a mirror that deletes asks on a terminal and needs
`--yes` elsewhere; refused, it writes nothing and exits non-zero."""

from __future__ import annotations

import pytest

from registry import cli
from registry.domain.importer import export_yaml, import_yaml
from tests.conftest import FIXTURES

BUNDLE = FIXTURES / "canonical-bundle.yaml"
ONE_REGISTRY = str(FIXTURES / "single-registry.yaml")


@pytest.fixture
def service(cli_app):
    service = cli_app.extensions["registry"]
    import_yaml(service, BUNDLE.read_text(), actor="seed")
    return service


@pytest.fixture
def runner(cli_app):
    return cli_app.test_cli_runner()


def test_not_on_a_terminal_it_needs_yes(runner, service, monkeypatch):
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    before = export_yaml(service)
    result = runner.invoke(args=["import", ONE_REGISTRY, "--mode", "mirror"])
    assert result.exit_code != 0
    assert "deletes 2 registries (default, team) and 4 profiles" in result.output
    assert "--yes" in result.output and "nothing was written" in result.output
    assert export_yaml(service) == before

    applied = runner.invoke(args=["import", ONE_REGISTRY, "--mode", "mirror", "--yes"])
    assert applied.exit_code == 0, applied.output
    assert "deleted   default/inventory" in applied.output
    assert [s.registry.slug for s in service.list_registries()] == ["support"]


def test_a_dry_run_needs_no_confirmation(runner, service, monkeypatch):
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    result = runner.invoke(args=["import", ONE_REGISTRY, "--mode", "mirror", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "4 deleted" in result.output and "would change 9" in result.output
    assert len(service.list_registries()) == 2


def test_on_a_terminal_it_asks(runner, service, monkeypatch):
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    before = export_yaml(service)
    declined = runner.invoke(args=["import", ONE_REGISTRY, "--mode", "mirror"], input="n\n")
    assert declined.exit_code != 0
    assert "Apply it?" in declined.output and "nothing was written" in declined.output
    assert export_yaml(service) == before

    accepted = runner.invoke(args=["import", ONE_REGISTRY, "--mode", "mirror"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert [s.registry.slug for s in service.list_registries()] == ["support"]


def test_an_empty_file_says_so(runner, service, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n")
    result = runner.invoke(args=["import", str(empty), "--mode", "mirror"])
    assert result.exit_code != 0
    assert "the file holds no registries" in result.output
    assert len(service.list_registries()) == 2


def test_upsert_never_asks(runner, service, monkeypatch):
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    result = runner.invoke(args=["import", ONE_REGISTRY])
    assert result.exit_code == 0, result.output
