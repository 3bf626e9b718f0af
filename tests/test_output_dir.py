from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.anthology import atomic, output_dir


@pytest.fixture
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _previous_output(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    output_dir.mark(out)
    (out / "state.json").write_text("last night")
    return out


def _fill(directory: Path) -> str:
    (directory / "state.json").write_text("tonight")
    return "filled"


def _listing(tmp_path: Path) -> dict[str, str]:
    return {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*")
            if p.is_file() and p.name != output_dir.MARKER}


@pytest.mark.usefixtures("default_sigint")
def test_an_interrupt_between_the_two_renames_keeps_an_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Between the renames the previous output sits in the staging directory; before, a
    # Ctrl-C there removed it with the staging directory, leaving no output at all (the
    # nightly state's `run/` is replaced this way).
    out = _previous_output(tmp_path)
    real_replace = os.replace
    renames: list[str] = []

    def replace_then_interrupt(source: Path, target: Path) -> None:
        real_replace(source, target)
        renames.append(str(target))
        if len(renames) == 1:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output_dir.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        output_dir.write_dir_atomically(out, _fill)
    assert _listing(tmp_path) == {"out/state.json": "tonight"}


def test_a_failed_second_rename_puts_the_previous_output_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _previous_output(tmp_path)
    real_replace = os.replace

    def second_fails(source: Path, target: Path) -> None:
        if Path(source).name == "new":
            raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(output_dir.os, "replace", second_fails)
    with pytest.raises(OSError, match="No space"):
        output_dir.write_dir_atomically(out, _fill)
    assert _listing(tmp_path) == {"out/state.json": "last night"}


@pytest.mark.usefixtures("default_sigint")
@pytest.mark.parametrize("maker", ["mkdtemp", "mkstemp"])
def test_an_interrupt_just_after_a_staging_path_is_made_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, maker: str) -> None:
    real = getattr(tempfile, maker)

    def make_then_interrupt(*args: object, **kwargs: object) -> object:
        made = real(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return made

    monkeypatch.setattr(output_dir.tempfile, maker, make_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        if maker == "mkdtemp":
            output_dir.write_dir_atomically(tmp_path / "out", _fill)
        else:
            output_dir.check_writable_parent(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def _staging_left_by_a_killed_run(out: Path, hours_ago: float) -> Path:
    staging = atomic.make_staging_dir(out)
    (staging / "new").mkdir()
    (staging / "new" / "state.json").write_text("half written")
    then = time.time() - hours_ago * 3600
    os.utime(staging, (then, then))
    return staging


def test_a_staging_directory_a_killed_run_left_is_removed_once_it_is_old(
        tmp_path: Path) -> None:
    out = _previous_output(tmp_path)
    old = _staging_left_by_a_killed_run(out, hours_ago=2)
    young = _staging_left_by_a_killed_run(out, hours_ago=0.5)  # perhaps a concurrent run's
    # Directories that are not ours, however named (a helper lost its notes to the first
    # version, which went by the name alone): none is ever removed.
    not_ours = [tmp_path / ".out.backup", tmp_path / f".out.{atomic.STAGING_TAG}.mine",
                tmp_path / f".out.{atomic.STAGING_TAG}.abcd1234"]  # the shape, no marker
    for directory in not_ours:
        directory.mkdir()
        (directory / "notes.txt").write_text("mine")
        os.utime(directory, (time.time() - 7200,) * 2)
    kept_name = old.parent / f"{old.name}-keep"  # a leftover a user renamed to look at
    os.replace(_staging_left_by_a_killed_run(out, hours_ago=3), kept_name)
    output_dir.write_dir_atomically(out, _fill)
    assert not old.exists() and young.exists() and kept_name.exists()
    assert all((directory / "notes.txt").exists() for directory in not_ours)
    assert (out / "state.json").read_text() == "tonight"


def test_an_output_a_killed_run_left_in_its_staging_directory_is_put_back(
        tmp_path: Path) -> None:
    # SIGKILL between the two renames: `out` moved into the staging directory as `old`,
    # the new version never moved in. The next run puts `old` back before anything else,
    # so a run that then fails still leaves the previous output.
    out = _previous_output(tmp_path)
    _killed_between_the_renames(out, hours_ago=2)

    def fails(directory: Path) -> str:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        output_dir.write_dir_atomically(out, fails)
    assert _listing(tmp_path) == {"out/state.json": "last night"}


def _killed_between_the_renames(out: Path, hours_ago: float) -> Path:
    staging = _staging_left_by_a_killed_run(out, hours_ago)
    os.replace(out, staging / "old")
    os.utime(staging, (time.time() - hours_ago * 3600,) * 2)
    return staging


def test_of_two_outputs_killed_runs_left_aside_the_newer_is_put_back(tmp_path: Path) -> None:
    out = _previous_output(tmp_path)
    _killed_between_the_renames(out, hours_ago=3)
    out.mkdir()
    output_dir.mark(out)
    (out / "state.json").write_text("the night after")
    _killed_between_the_renames(out, hours_ago=2)
    output_dir.recover_killed_output(out)
    assert _listing(tmp_path) == {"out/state.json": "the night after"}


def test_an_output_put_back_needs_force_to_be_replaced_like_any_other(
        tmp_path: Path) -> None:
    out = _previous_output(tmp_path)
    _killed_between_the_renames(out, hours_ago=2)
    with pytest.raises(output_dir.OutputDirError, match="--force"):
        output_dir.check_replaceable_dir(out, {}, force=False)
    assert _listing(tmp_path) == {"out/state.json": "last night"}


def test_copies_a_killed_evaluation_left_are_removed_by_the_next_once_old(
        tmp_path: Path) -> None:
    from pipeline.evaluate import modes

    # Killed runs: their blocks never end (the managers are kept from being collected,
    # which would end them).
    killed = [modes.work_dir(tmp_path, "as-user") for _ in range(2)]
    old = killed[0].__enter__()
    (old / "fold-0" / "anthology").mkdir(parents=True)  # a stripped copy, hundreds of MB
    os.utime(old, (time.time() - 7200,) * 2)
    young = killed[1].__enter__()
    with modes.work_dir(tmp_path, "as-user") as work:
        assert not old.exists() and young.exists() and work.exists()
    assert not work.exists() and young.exists()


@pytest.mark.usefixtures("default_sigint")
def test_an_interrupt_as_an_evaluation_makes_its_work_directory_leaves_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.evaluate import modes

    make = atomic.make_staging_dir

    def made_then_interrupted(path: Path) -> Path:
        made = make(path)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C before the caller knows the directory
        return made

    monkeypatch.setattr(atomic, "make_staging_dir", made_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        with modes.work_dir(tmp_path, "as-user"):
            raise AssertionError("the block must not run")
    assert list(tmp_path.iterdir()) == []


def test_an_output_named_through_dot_dot_is_replaced_as_the_directory_it_names(
        tmp_path: Path) -> None:
    out = _previous_output(tmp_path)
    (out / "names").mkdir()
    named = output_dir.replaceable_dir_path(str(out / "names" / ".."))
    output_dir.check_replaceable_dir(named, {}, force=True)
    assert output_dir.write_dir_atomically(named, _fill) == "filled"  # was: EBUSY
    assert _listing(tmp_path) == {"out/state.json": "tonight"}
    # Its own name kept (a symbolic link there is refused, not followed), the rest real.
    assert output_dir.replaceable_dir_path("../out") == Path.cwd().resolve().parent / "out"


def test_an_output_named_through_itself_is_replaced_and_never_lost(tmp_path: Path) -> None:
    """`out/names/../../out`: once `out` was moved aside the path named nothing, the new
    output could not be put in place, nor the old one back (it was left in the staging
    directory, and an hour later removed)."""
    out = _previous_output(tmp_path)
    (out / "names").mkdir()
    through_itself = out / "names" / ".." / ".." / "out"
    output_dir.check_replaceable_dir(through_itself, {}, force=True)
    assert output_dir.write_dir_atomically(through_itself, _fill) == "filled"
    assert _listing(tmp_path) == {"out/state.json": "tonight"}
    assert output_dir.replaceable_dir_path(str(through_itself)) == out
