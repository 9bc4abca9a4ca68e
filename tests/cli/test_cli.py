"""The `profile-registry` CLI: init, import, export, migrate-legacy, validate."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES


@pytest.fixture
def runner(cli_app):
    return (
        cli_app.test_cli_runner(mix_stderr=False)
        if _mix_stderr_supported(cli_app)
        else cli_app.test_cli_runner()
    )


def _mix_stderr_supported(cli_app):
    import inspect

    from click.testing import CliRunner

    return "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


def test_init_creates_the_default_registry(cli_app, runner):
    result = runner.invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert 'created registry "default"' in result.output
    assert cli_app.extensions["registry"].get_registry("default").slug == "default"
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0 and "created" not in again.output


def test_import_dry_run_then_apply_then_export(cli_app, runner, tmp_path):
    bundle = str(FIXTURES / "canonical-bundle.yaml")
    dry = runner.invoke(args=["import", bundle, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "created   default/inventory" in dry.output
    assert "would change" in dry.output
    assert cli_app.extensions["registry"].list_registries() == []

    applied = runner.invoke(args=["import", bundle, "--mode", "upsert"])
    assert applied.exit_code == 0, applied.output
    assert "changed 6" in applied.output

    out = tmp_path / "export.yaml"
    exported = runner.invoke(args=["export", "-o", str(out)])
    assert exported.exit_code == 0
    data = yaml.safe_load(out.read_text())
    assert sorted(data["registries"]) == ["default", "team"]

    only = runner.invoke(args=["export", "--registry", "team"])
    assert only.exit_code == 0
    assert list(yaml.safe_load(only.output)["registries"]) == ["team"]

    # the JSON lane: a .json file is JSON, and it imports and validates like YAML
    as_json = tmp_path / "export.json"
    assert runner.invoke(args=["export", "-o", str(as_json)]).exit_code == 0
    assert json.loads(as_json.read_text()) == data
    assert runner.invoke(args=["export", "--format", "json"]).output == as_json.read_text()
    assert runner.invoke(args=["validate", str(as_json)]).exit_code == 0
    again = runner.invoke(args=["import", str(as_json), "--dry-run", "--mode", "upsert"])
    assert again.exit_code == 0 and "would change 0" in again.output, again.output


def test_import_errors_are_lines_with_field_paths(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "slug: r\ndefault_profile_slug: a\nprofiles:\n  a:\n    runtime:\n      tools: ['']\n"
    )
    result = runner.invoke(args=["import", str(bad)])
    assert result.exit_code == 1
    assert (
        "registries[r].profiles[a].runtime.tools[0]: Enter a tool name or remove the empty row"
        in result.stderr
    )


def test_missing_file_and_unknown_registry_are_one_line_errors(runner):
    result = runner.invoke(args=["import", "/nonexistent.yaml"])
    assert (
        result.exit_code != 0 and "cannot read /nonexistent.yaml" in result.output + result.stderr
    )
    result = runner.invoke(args=["export", "--registry", "ghost"])
    assert result.exit_code != 0 and "registry not found" in result.output + result.stderr


def test_validate(runner, tmp_path):
    for name in ("canonical-bundle.yaml", "legacy-profiles.yaml", "single-registry.yaml"):
        result = runner.invoke(args=["validate", str(FIXTURES / name)])
        assert result.exit_code == 0, result.output + result.stderr
        assert result.output.startswith("valid ")
    strict = runner.invoke(args=["validate", "--strict", str(FIXTURES / "canonical-bundle.yaml")])
    assert strict.exit_code == 1
    lines = strict.stderr.strip().splitlines()
    assert lines == [
        "registries[default].profiles[analyst].extensions[thirdparty.ui_hints@v2]: Unknown extension key",
        "registries[default].profiles[inventory].extensions[inventory.capabilities@v1]: Unknown extension key",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "registries:\n  r:\n    profiles:\n      a:\n        extensions: {'bad key': 1}\n"
    )
    result = runner.invoke(args=["validate", str(bad)])
    assert result.exit_code == 1
    assert "registries[r].profiles[a].extensions[bad key]: Extension key" in result.stderr


def test_migrate_legacy(runner, tmp_path):
    out = tmp_path / "migrated.yaml"
    result = runner.invoke(
        args=["migrate-legacy", str(FIXTURES / "legacy-profiles.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "legacy document: wrote 1 registries, 4 profiles" in result.output
    data = yaml.safe_load(out.read_text())
    reg = data["registries"]["default"]
    assert reg["default_profile_slug"] == "default"
    assert reg["profiles"]["fast"]["runtime"]["step_settings_patch"]["ai-client"] == {"timeout": 20}
    check = runner.invoke(args=["validate", str(out)])
    assert check.exit_code == 0


def test_the_console_script_runs(tmp_path):
    """The installed entry point itself (not only the Flask test runner)."""
    exe = shutil.which("profile-registry", path=str(Path(sys.executable).parent))
    assert exe, "profile-registry is not installed in this environment"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run(
        [exe, "import", str(FIXTURES / "legacy-profiles.yaml")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    result = subprocess.run(
        [exe, "export"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert "local-llama" in result.stdout
