from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.cli import build_parser, main


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"prepare", "stats"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert "usage: anthology-resolve" in capsys.readouterr().out


def test_stats_on_mini(mini_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                       ) -> None:
    assert main(["-q", "stats", "--anthology", str(mini_dir), "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "author mentions" in text and "ambiguous name Yang Liu used without an id" in text


def test_bad_input_exits_non_zero_naming_file_and_line(
        mini_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mini_dir / "xml" / "2099.bad.xml").write_text("<collection id='2099.bad'>\n<oops>\n")
    code = main(["-q", "stats", "--anthology", str(mini_dir), "--no-cache"])
    assert code == 2
    err = capsys.readouterr().err
    assert "2099.bad.xml:3: error: malformed XML" in err.replace("\n", "")


def test_missing_snapshot_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    assert main(["-q", "stats", "--anthology", str(tmp_path / "nowhere")]) == 2
    assert "no Anthology data" in capsys.readouterr().err


@pytest.fixture
def python_signal_handlers() -> Iterator[None]:
    """Python's own Ctrl-C handler, even where the test runner was started with SIGINT
    ignored (a background job of a shell without job control); both handlers put back
    after (`main` installs the command line's)."""
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


@pytest.mark.usefixtures("python_signal_handlers")
@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGTERM, 143, "terminated")])
def test_a_signal_exits_with_the_shell_s_code_for_it(
        signum: int, code: int, said: str, mini_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def signalled(args: object) -> int:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler raises before this ends
        return 0

    monkeypatch.setattr(cli, "cmd_stats", signalled)
    assert main(["stats", "--anthology", str(mini_dir), "--cache", str(tmp_path)]) == code
    out = capsys.readouterr()
    assert said in out.out + out.err


@pytest.mark.usefixtures("python_signal_handlers")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_whose_exception_python_drops_still_stops_the_run(
        signum: int, code: int, mini_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # helper-37: a Ctrl-C landing in a garbage collector's callback at the end of a night
    # was dropped there ("Exception ignored"), and the run exited 0 (2 times in 10).
    class Dropping:
        def __del__(self) -> None:
            os.kill(os.getpid(), signum)
            time.sleep(1)  # the handler raises here, inside __del__, where Python drops it

    def signalled(args: object) -> int:
        Dropping()
        return 0

    monkeypatch.setattr(cli, "cmd_stats", signalled)
    assert main(["stats", "--anthology", str(mini_dir), "--cache", str(tmp_path)]) == code
    monkeypatch.setattr(cli, "cmd_stats", lambda args: 0)
    assert main(["stats", "--anthology", str(mini_dir), "--cache", str(tmp_path)]) == 0
    said = "interrupted" if signum == signal.SIGINT else "terminated"
    assert capsys.readouterr().err.count(said) == 1  # and the second run said nothing


def test_more_workers_than_cores_says_how_many_are_used(
        mini_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    assert main(["stats", "--workers", "4096", "--anthology", str(mini_dir), "--cache",
                 str(tmp_path)]) == 0
    assert f"--workers 4096: {min(4096, os.cpu_count() or 1)} used" in caplog.text


@pytest.mark.parametrize(("arguments", "code", "says"), [
    (["stats", "--anthology", "{mini}", "--no-cache"], 0, "author mentions"),
    (["stats", "--anthology", "{mini}/nowhere", "--no-cache"], 2, "error:"),
])
def test_the_command_ends_with_its_code_and_all_it_wrote(
        mini_dir: Path, arguments: list[str], code: int, says: str) -> None:
    # The entry point ends the process at once (`cli.run`): what it printed must be out.
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *(a.format(mini=mini_dir) for a in arguments)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == code
    assert says in done.stdout + done.stderr
    assert not done.stderr.count("Traceback")
