"""Never lose a maintainer's data: what --out accepts, all-or-nothing in-place runs, and
interruptions injected at every step."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from builder import two_wei_zhangs

from pipeline import cli
from pipeline.anthology import transaction
from pipeline.anthology.output_dir import MARKER
from pipeline.cli import main


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """WORKDIR/data (a snapshot) and WORKDIR/res (a resolution of Wei Zhang)."""
    root = two_wei_zhangs(tmp_path / "data")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert main(["-q", "resolve", "--anthology", str(root), "--no-cache", "--name",
                 "wei-zhang", "--out", str(tmp_path / "res")]) == 0
    return tmp_path


def _export(workdir: Path, *extra: str) -> int:
    return main(["-q", "export", "--anthology", str(workdir / "data"), "--no-cache",
                 "--resolution", str(workdir / "res"), *extra])


@pytest.mark.parametrize("out", [".", "..", "data", "data/xml", "res", "existing-file",
                                 "not-ours"])
def test_export_out_never_replaces_what_it_did_not_create(
        workdir: Path, out: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "existing-file").write_text("keep me\n")
    (workdir / "not-ours").mkdir()
    (workdir / "not-ours" / "notes.txt").write_text("mine\n")
    before = _tree(workdir)
    monkeypatch.chdir(workdir / ("data" if out == ".." else "."))
    target = out if out != ".." else ".."
    assert _export(workdir, "--out", target) == 2
    assert "--out" in capsys.readouterr().err
    assert _tree(workdir) == before


@pytest.mark.parametrize("summary", ["data/xml/2015.tiny.xml", "data/yaml/name_variants.yaml",
                                     "res/assignments.csv", "copy/summary.md", "notes.md",
                                     "res", "notes.md/summary.md"])
def test_summary_never_overwrites_data_inputs_or_other_files(
        workdir: Path, summary: str, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "notes.md").write_text("my own notes\n")
    before = _tree(workdir)
    assert _export(workdir, "--out", str(workdir / "copy"), "--summary",
                   str(workdir / summary)) == 2
    assert "--summary" in capsys.readouterr().err
    assert _tree(workdir) == before and not (workdir / "copy").exists()


def test_summary_replaces_an_earlier_summary(workdir: Path) -> None:
    summary = workdir / "summary.md"
    assert _export(workdir, "--out", str(workdir / "copy"), "--summary", str(summary)) == 0
    first = summary.read_text()
    assert first.startswith("# Author disambiguation")
    assert _export(workdir, "--out", str(workdir / "copy"), "--force", "--summary",
                   str(summary)) == 0
    assert summary.read_text() == first


def test_migrate_out_absolute_parent_of_data_is_refused(workdir: Path) -> None:
    before = _tree(workdir)
    assert main(["-q", "migrate", "--anthology", str(workdir / "data"), "--no-cache",
                 "--out", str(workdir)]) == 2
    assert _tree(workdir) == before


def test_out_may_be_new_empty_or_ours_with_force(workdir: Path) -> None:
    assert _export(workdir, "--out", str(workdir / "copy")) == 0
    assert (workdir / "copy" / MARKER).is_file()
    assert (workdir / "copy" / "yaml" / "name_variants.yaml").is_file()
    assert _export(workdir, "--out", str(workdir / "copy")) == 2  # ours, but no --force
    assert _export(workdir, "--out", str(workdir / "copy"), "--force") == 0
    (workdir / "empty").mkdir()
    assert _export(workdir, "--out", str(workdir / "empty")) == 0
    assert not [p for p in workdir.iterdir() if p.name.startswith(".copy.")]


def test_resolve_out_is_checked_before_the_work(workdir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    blocker = workdir / "a-file"
    blocker.write_text("x")
    assert main(["-q", "resolve", "--anthology", str(workdir / "data"), "--no-cache",
                 "--out", str(blocker / "out")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["-q", "resolve", "--anthology", str(workdir / "data"), "--no-cache",
                 "--out", str(workdir / "data" / "xml")]) == 2
    assert not (workdir / "data" / "xml" / "assignments.csv").exists()


def test_resolve_refuses_a_directory_where_an_output_goes_before_the_work(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = workdir / "out"
    (out / "placements.csv").mkdir(parents=True)
    (out / "placements.csv" / "mine.txt").write_text("kept")

    def no_work(args: object) -> None:
        raise AssertionError("the snapshot was read before --out was checked")

    monkeypatch.setattr(cli, "_read", no_work)
    assert main(["-q", "resolve", "--anthology", str(workdir / "data"), "--no-cache",
                 "--out", str(out)]) == 2
    assert "placements.csv is a directory" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == ["mine.txt", "placements.csv"]


def _patched_tree(workdir: Path) -> dict[str, bytes]:
    """What a successful in-place export gives, computed on a copy."""
    assert _export(workdir, "--out", str(workdir / "expected")) == 0
    tree = _tree(workdir / "expected")
    tree.pop(MARKER)
    return tree


def _no_sidecars(root: Path) -> bool:
    return not [p for p in root.rglob("*") if "anthology-resolve-" in p.name]


def _visible(tree: dict[str, bytes]) -> dict[str, bytes]:
    """What other tools see: everything but our staged, backup and journal files."""
    return {n: v for n, v in tree.items() if "anthology-resolve-" not in n}


@pytest.mark.parametrize("step", ["_write_file", "replace", "link"])
def test_in_place_is_all_or_nothing_whichever_step_fails(
        workdir: Path, step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _tree(workdir / "data")
    patched = _patched_tree(workdir)
    changed = sum(before.get(k) != v for k, v in patched.items())
    assert changed >= 2  # the registry and at least one volume file
    for k in range(1, changed + 1):
        with monkeypatch.context() as patch:
            calls = 0
            original = transaction._write_file if step == "_write_file" else getattr(
                os, step)

            def failing(*args: object, k: int = k, original: object = original) -> object:
                nonlocal calls
                calls += 1
                if calls == k:
                    raise OSError(28, "No space left on device (injected)", str(args[-1]))
                return original(*args)  # type: ignore[operator]

            if step == "_write_file":
                patch.setattr(transaction, "_write_file", failing)
            else:
                patch.setattr(os, step, failing)
            assert _export(workdir, "--in-place") == 2
        assert _tree(workdir / "data") == before, f"{step} #{k} failed and left changes"
        assert _no_sidecars(workdir / "data")
        assert main(["-q", "stats", "--anthology", str(workdir / "data"), "--no-cache"]) == 0
    assert _export(workdir, "--in-place") == 0
    assert _tree(workdir / "data") == patched
    assert _no_sidecars(workdir / "data")


def test_read_only_registry_folder_changes_nothing(workdir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root in CI, where chmod does not stop writes: refuse like a read-only
    # folder would, at the first file created in yaml/.
    before = _tree(workdir / "data")
    original = transaction._write_file

    def read_only_yaml(path: Path, data: bytes) -> None:
        if path.parent.name == "yaml":
            raise PermissionError(13, "Permission denied (injected)", str(path))
        original(path, data)

    monkeypatch.setattr(transaction, "_write_file", read_only_yaml)
    assert _export(workdir, "--in-place") == 2
    assert _tree(workdir / "data") == before and _no_sidecars(workdir / "data")


def _run_cli(args: list[str], preexec: object = None, env_code: str = ""
             ) -> subprocess.CompletedProcess[str]:
    code = env_code + "import sys\nfrom pipeline.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          preexec_fn=preexec, timeout=300)  # type: ignore[arg-type]


def test_file_size_limit_changes_nothing(workdir: Path) -> None:
    before = _tree(workdir / "data")
    patched = _patched_tree(workdir)
    smallest_change = min(len(v) for k, v in patched.items() if before.get(k) != v)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (smallest_change // 2, smallest_change // 2))

    done = _run_cli(["-q", "export", "--anthology", str(workdir / "data"), "--no-cache",
                     "--resolution", str(workdir / "res"), "--in-place"], preexec=limit)
    assert done.returncode == 2, done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "File too large" in said and "anthology-resolve-new" in said  # names the file
    assert _tree(workdir / "data") == before and _no_sidecars(workdir / "data")


@pytest.mark.parametrize(("command", "call", "k"), [
    ("export", "replace", 1), ("export", "replace", 2), ("export", "replace", 3),
    ("migrate", "replace", 1), ("migrate", "unlink", 1)])
def test_killed_mid_run_is_rolled_back_by_the_next_run(workdir: Path, tmp_path: Path,
                                                        command: str, call: str, k: int) -> None:
    """SIGKILL at the k-th rename of a staged file (or removal of a target). Until the next
    run, other tools see each file either old or new, registry first; the next run that reads
    the snapshot rolls the change back."""
    data = workdir / "data"
    before = _tree(data)
    args = ["-q", command, "--anthology", str(data), "--no-cache", "--in-place"]
    if command == "export":
        args += ["--resolution", str(workdir / "res")]
    # replace: count renames of staged files; unlink: count removals of the legacy registry
    watched = "anthology-resolve-new" if call == "replace" else "/yaml/name_variants.yaml"
    kill_at_rename = (
        "import os\n"
        "calls = [0]\n"
        f"real = os.{call}\n"
        "def hook(*args):\n"
        f"    if str(args[0]).endswith({watched!r}):\n"
        "        calls[0] += 1\n"
        f"        if calls[0] == {k}:\n"
        "            os._exit(9)\n"
        "    return real(*args)\n"
        f"os.{call} = hook\n")
    done = _run_cli(args, env_code=kill_at_rename)
    assert done.returncode == 9, done.stderr
    interrupted = _tree(data)
    assert ".anthology-resolve-journal.json" in interrupted
    changed = [n for n, v in _visible(interrupted).items() if before.get(n) != v]
    assert len(changed) == (k - 1 if call == "replace" else 1)
    if command == "export":  # registry first: what others see still reads
        assert k == 1 or "yaml/name_variants.yaml" in changed
        plain = tmp_path / "as-others-see-it"
        for name, content in _visible(interrupted).items():
            (plain / name).parent.mkdir(parents=True, exist_ok=True)
            (plain / name).write_bytes(content)
        assert main(["-q", "stats", "--anthology", str(plain), "--no-cache"]) == 0
    assert main(["-q", "stats", "--anthology", str(data), "--no-cache"]) == 0
    assert _tree(data) == before
    assert main(args) == 0  # and the run can simply be made again
    assert _no_sidecars(data)
