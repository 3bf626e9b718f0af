"""Bad input gives a clear message naming the file and line (or value), exit 2, no output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.anthology.person_ids import propose_id
from pipeline.anthology.snapshot import read_snapshot
from pipeline.cli import main
from pipeline.errors import Problem


def _stats(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["-q", "stats", "--anthology", str(root), *(extra or ("--no-cache",))])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def _replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_directory_named_like_a_volume_file(mini_dir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (mini_dir / "xml" / "2100.dir.xml").mkdir()
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "2100.dir.xml: error: named like a volume file but is not" in text


def test_a_symlink_loop_named_like_a_volume_file(mini_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    loop = mini_dir / "xml" / "loop.xml"
    loop.symlink_to(loop)
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "loop.xml: error:" in text


def test_an_old_style_paper_id_that_is_no_number(mini_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _replace_in(mini_dir / "xml" / "P99.xml", '<paper id="12">', '<paper id="2a">')
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "P99.xml:15: error: no Anthology id can be built" in text
    assert "[2a]" in text


def test_a_paper_without_an_id(mini_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace_in(mini_dir / "xml" / "P99.xml", '<paper id="12">', "<paper>")
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "P99.xml:15: error: <paper> without an id in volume '1'" in text


def test_two_files_for_one_collection(mini_dir: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    xml = mini_dir / "xml"
    (xml / "P99 copy.xml").write_bytes((xml / "P99.xml").read_bytes())
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "volume P99-1 is also in P99.xml" in text
    assert main(["-q", "resolve", "--anthology", str(mini_dir), "--no-cache", "--out",
                 str(mini_dir.parent / "out")]) == 2
    assert not (mini_dir.parent / "out" / "assignments.csv").exists()


def test_a_paper_id_twice_in_a_volume(mini_dir: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    # helper-37: resolve and nightly failed with a pandas traceback (exit 1), stats said
    # nothing.
    volume = mini_dir / "xml" / "P99.xml"
    volume.write_text(volume.read_text(encoding="utf-8").replace('<paper id="12">',
                                                                 '<paper id="1">'),
                      encoding="utf-8")
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "P99.xml" in text and "paper P99-1001 appears 2 times" in text
    assert main(["-q", "resolve", "--anthology", str(mini_dir), "--no-cache", "--out",
                 str(mini_dir.parent / "out")]) == 2
    assert not (mini_dir.parent / "out").exists()


def test_a_corrupt_cache_is_rebuilt_with_a_warning(
        mini_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "cache"
    code, first = _stats(mini_dir, capsys, "--cache", str(cache))
    assert code == 0
    for parquet in cache.rglob("*.parquet"):
        parquet.write_bytes(b"not parquet at all")
    code, second = _stats(mini_dir, capsys, "--cache", str(cache))
    assert code == 0 and second == first
    assert "cannot be read" in caplog.text
    code, third = _stats(mini_dir, capsys, "--cache", str(cache))  # rebuilt: read silently
    assert code == 0 and third == first


def test_a_cache_shared_by_two_copies_names_the_files_read(
        mini_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    other = tmp_path / "other"
    other.mkdir()
    copy = other / "mini"
    copy.mkdir()
    for sub in ("xml", "yaml"):
        (copy / sub).mkdir()
        for f in (mini_dir / sub).iterdir():
            (copy / sub / f.name).write_bytes(f.read_bytes())
    _stats(mini_dir, capsys, "--cache", str(cache))
    snapshot = read_snapshot(copy, cache_dir=cache)
    sources = {p.source for p in snapshot.problems.problems if p.source.endswith(".xml")}
    assert sources and all(s.startswith(str(copy)) for s in sources)


def test_a_name_that_matches_nobody(mini_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "resolve", "--anthology", str(mini_dir), "--no-cache", "--name",
                 "nobody-at-all", "--out", str(tmp_path / "out")]) == 2
    assert "--name nobody-at-all" in capsys.readouterr().err
    assert not (tmp_path / "out" / "assignments.csv").exists()


def test_a_registry_that_cannot_be_parsed_is_reported_alone(
        mini_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = mini_dir / "yaml" / "name_variants.yaml"
    registry.write_text(registry.read_text() + "- canonical: {first: Broken, last: [\n")
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "1 problem(s)" in text and "malformed YAML" in text
    assert "name_variants.yaml:" in text


@pytest.fixture
def current_dir(mini_dir: Path, tmp_path: Path) -> Path:
    """The mini snapshot migrated to people.json."""
    out = tmp_path / "current"
    assert main(["-q", "migrate", "--anthology", str(mini_dir), "--no-cache", "--out",
                 str(out)]) == 0
    return out


def test_malformed_json_names_its_line(current_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    people = current_dir / "json" / "people.json"
    lines = people.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n") + " oops\n"
    people.write_text("".join(lines))
    code, text = _stats(current_dir, capsys)
    assert code == 2 and "people.json:4: error: malformed JSON" in text


@pytest.mark.parametrize("content", ["null\n", "[]\n", "\"people\"\n"])
def test_people_json_that_is_no_mapping_names_the_file(
        current_dir: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    people = current_dir / "json" / "people.json"
    people.write_text(content)
    code, text = _stats(current_dir, capsys)
    assert code == 2
    assert "people.json:1: error: the registry must map person ids to entries" in text


def test_a_duplicate_id_in_people_json(current_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    people = current_dir / "json" / "people.json"
    lines = people.read_text().splitlines(keepends=True)
    end = lines.index("  },\n")  # the first entry: lines 2 .. end+1
    entry = lines[1:end + 1]
    people.write_text("".join(lines[:end + 1] + entry + lines[end + 1:]))
    code, out = _stats(current_dir, capsys)
    duplicate_at = end + 2
    assert code == 2 and f"people.json:{duplicate_at}: error: duplicate key" in out
    assert f"[{entry[0].split(chr(34))[1]}]" in out


@pytest.mark.parametrize("slug", ["", "-", "42", "a"])
def test_proposed_ids_are_always_valid(slug: str) -> None:
    from acl_anthology.utils.ids import is_verified_person_id

    taken: set[str] = set()
    for _ in range(3):
        new = propose_id(slug, taken, "University of Somewhere", "0000-0002-1825-0097")
        assert is_verified_person_id(new) and new not in taken
        taken.add(new)


def test_forked_workers_die_with_their_parent(tmp_path: Path) -> None:
    # The parse, the split and the Gephi writers all run on forked_map's workers.
    # Each worker leaves a file named by its pid; the parent dies once both are there.
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from pipeline.parallel import forked_map\n"
        "out = Path(sys.argv[1])\n"
        "def task(number):\n"
        "    (out / str(os.getpid())).touch()\n"
        "    time.sleep(600)\n"
        "with forked_map(task, 2, 2) as results:\n"
        "    deadline = time.monotonic() + 30\n"
        "    while len(list(out.iterdir())) < 2 and time.monotonic() < deadline:\n"
        "        time.sleep(0.05)\n"
        "    os._exit(9)\n")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=60)
    workers = [int(p.name) for p in tmp_path.iterdir()]
    assert len(workers) == 2
    deadline = time.monotonic() + 20
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.1)
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_carriage_return_in_a_paper_id(mini_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # helper-45: it went through to assignments.csv, whose row it broke (the next night
    # could not read its state).
    _replace_in(mini_dir / "xml" / "2099.tiny.xml", '<paper id="2">', '<paper id="2&#13;">')
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and ("2099.tiny.xml:24: error: the Anthology id '2099.tiny-long.2\\r' of "
                          "this <paper> holds a control character or an invisible space in "
                          "volume 'long' ['2\\r']") in text


def test_problems_with_and_without_a_line_in_one_file_are_all_listed(
        mini_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # helper-45: sorting them compared None with a number: exit 1 and a traceback.
    volume = mini_dir / "xml" / "P99.xml"
    _replace_in(volume, "<year>1999</year>", "<year>0000</year>")  # a warning without a line
    _replace_in(volume, "<first>Steven</first><last>Abney</last>", "<first/><last/>")
    code, text = _stats(mini_dir, capsys)
    assert code == 0
    assert "P99.xml: warning: unreadable <year> in P99-1 [0000]" in text
    assert "P99.xml:12: warning: author 1 of P99-1001 has an empty name; skipped" in text
    _replace_in(volume, '<paper id="12">', '<paper id="1">')  # an error without a line
    _replace_in(volume, "</volume>", "<paper><title>No id</title></paper></volume>")
    code, text = _stats(mini_dir, capsys)
    assert code == 2 and "paper P99-1001 appears 2 times" in text
    assert "P99.xml:20: error: <paper> without an id in volume '1'" in text


def test_a_value_with_an_invisible_character_is_shown_escaped() -> None:
    # helper-47: "id wasn't defined [aaron-gokaslan]" about an id that exists: a carriage
    # return at its end was printed as it is.
    problem = Problem("people.json", 3, "id wasn't defined in people.json", "aaron-gokaslan\r")
    assert str(problem) == ("people.json:3: error: id wasn't defined in people.json "
                            "['aaron-gokaslan\\r']")
    assert str(Problem("a.xml", 1, "bad", "Ann Marie")) == "a.xml:1: error: bad [Ann Marie]"
