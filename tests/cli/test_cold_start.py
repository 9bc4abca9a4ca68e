"""`profile-registry validate` starts without the app's libraries (a fast start for
pre-commit hooks), yet reads its settings as every other command does; the app's group still
lists every command. Whole processes, as a user runs them; speed itself is the bench's job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_first_run import clean_env, cli
from tests.conftest import FIXTURES

APP_LIBRARIES = ("flask", "werkzeug", "jinja2", "peewee", "playhouse", "gunicorn", "psycopg2")
SHOW_MODULES = """
import json, sys
from registry.main import main
sys.argv = ["profile-registry", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_after(tmp: Path, *args: str) -> tuple[int, set[str]]:
    run = subprocess.run(
        [sys.executable, "-c", SHOW_MODULES, *args],
        cwd=tmp,
        env=clean_env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    return report["code"], {m.split(".")[0] for m in report["modules"]}


def test_validate_imports_no_app_library(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("registries: [1]\n")
    for args, code in (
        (("validate", str(FIXTURES / "canonical-bundle.yaml")), 0),
        (("validate", str(bad)), 1),
        (("migrate-legacy", str(FIXTURES / "legacy-profiles.yaml"), "-o", "out.yaml"), 0),
    ):
        exit_code, loaded = modules_after(tmp_path, *args)
        assert exit_code == code, args
        assert "registry" in loaded and "yaml" in loaded, args  # it did run
        assert loaded.isdisjoint(APP_LIBRARIES), (args, loaded & set(APP_LIBRARIES))
    # the control: a command of the app's group does load them
    exit_code, loaded = modules_after(tmp_path, "--version")
    assert exit_code == 0 and {"flask", "werkzeug"} <= loaded


def test_validate_reads_dotenv_files_as_the_app_commands_do(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.yaml"
    bundle.write_bytes((FIXTURES / "canonical-bundle.yaml").read_bytes())
    assert cli(tmp_path, "validate", str(bundle)).returncode == 0
    (tmp_path / ".env").write_text("REGISTRY_MAX_IMPORT_BYTES=100\n")
    refused = cli(tmp_path, "validate", str(bundle))
    assert refused.returncode == 1
    assert "more than the limit of 100" in refused.stderr
    skipped = cli(tmp_path, "validate", str(bundle), FLASK_SKIP_DOTENV="1")
    assert skipped.returncode == 0, skipped.stderr
    assert not (tmp_path / "instance").exists()


def test_the_app_group_still_lists_and_runs_every_command(tmp_path: Path) -> None:
    listed = cli(tmp_path, "--help")
    assert listed.returncode == 0
    for name in ("validate", "migrate-legacy", "bench", "init", "import", "token", "webhook"):
        assert f"  {name} " in listed.stdout, name
    usage = cli(tmp_path, "validate", "--help")
    assert (
        usage.returncode == 0 and "Usage: profile-registry validate [OPTIONS] FILE" in usage.stdout
    )
    missing = cli(tmp_path, "validate")
    assert missing.returncode == 2 and "Missing argument 'FILE'" in missing.stderr
    bench = cli(tmp_path, "bench", "--only", "nothing")
    assert bench.returncode == 2 and "unknown nothing" in bench.stderr


def test_validate_takes_documents_up_to_the_configured_limit(tmp_path: Path) -> None:
    from registry.domain.yaml_safe import MAX_BYTES

    # a bundle over the loader's default limit passes once REGISTRY_MAX_IMPORT_BYTES allows it
    bundle = tmp_path / "big.yaml"
    text = (FIXTURES / "canonical-bundle.yaml").read_text()
    bundle.write_text(text + "#" * (MAX_BYTES + 10) + "\n")
    refused = cli(tmp_path, "validate", str(bundle))
    assert refused.returncode == 1 and "more than the limit" in refused.stderr
    raised = cli(tmp_path, "validate", str(bundle), REGISTRY_MAX_IMPORT_BYTES=str(2 * MAX_BYTES))
    assert raised.returncode == 0, raised.stderr[-500:]


def test_bulk_commands_run_without_collector_pauses_and_restore_it() -> None:
    import gc

    from registry.cli_offline import without_gc_pauses

    seen = []
    wrapped = without_gc_pauses(lambda: seen.append(gc.isenabled()) or "done")
    assert gc.isenabled()
    assert wrapped() == "done" and seen == [False]
    assert gc.isenabled()  # back on, also after a failure:
    with pytest.raises(ZeroDivisionError):
        without_gc_pauses(lambda: 1 / 0)()
    assert gc.isenabled()
