"""A process killed (SIGKILL) in the middle of an import leaves the store before or after."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from registry.domain.service import RegistryService
from registry.store import open_store
from tests.conftest import FIXTURES

PROFILES = 3000


def big_bundle() -> str:
    lines = ["registries:", "  bulk:", "    default_profile_slug: p00000", "    profiles:"]
    for i in range(PROFILES):
        lines += [
            f"      p{i:05d}:",
            f"        display_name: Profile {i}",
            "        runtime:",
            f"          system_prompt: You are assistant number {i}.",
            "        extensions:",
            "          vendor.blob@v1: {keep: [1, 2, {x: null}]}",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "yaml"])
def test_sigkill_mid_import_leaves_before_or_after(tmp_path, backend):
    url = (
        f"sqlite:///{tmp_path / 'crash.db'}"
        if backend == "sqlite"
        else f"yaml:{tmp_path / 'crash.yaml'}"
    )
    env = {**os.environ}
    env.pop("DATABASE_URL", None)
    env["REGISTRY_STORE" if backend == "yaml" else "DATABASE_URL"] = url
    env["REGISTRY_TOKEN_STORE"] = f"sqlite:///{tmp_path / 'tokens.db'}"
    exe = shutil.which("profile-registry", path=str(Path(sys.executable).parent))
    assert exe

    # state before: one registry that the import does not touch
    subprocess.run(
        [exe, "import", str(FIXTURES / "single-registry.yaml")],
        env=env,
        check=True,
        capture_output=True,
    )
    bundle = tmp_path / "big.yaml"
    bundle.write_text(big_bundle())

    with subprocess.Popen(
        [exe, "import", str(bundle)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as proc:
        seen = ""
        for line in proc.stderr:  # progress lines: "importing 150/3001 (4%)"
            seen = line
            if line.startswith("importing"):
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert seen.startswith("importing"), f"import never reported progress: {seen!r}"
    assert proc.returncode == -signal.SIGKILL

    service = RegistryService(open_store(url))
    try:
        assert service.get_profile("support", "triage").display_name == "Triage"
        regs = {s.registry.slug: s.profile_count for s in service.list_registries()}
        assert regs.get("bulk", 0) in (0, PROFILES), regs
        if regs.get("bulk"):
            assert service.get_profile("bulk", f"p{PROFILES - 1:05d}").extensions == {
                "vendor.blob@v1": {"keep": [1, 2, {"x": None}]}
            }
        # the store is writable afterwards
        plan_env_free = service.list_profiles("support")
        assert [p.slug for p in plan_env_free.items] == ["escalation", "triage"]
    finally:
        service.close()
