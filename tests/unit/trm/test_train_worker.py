"""Training in a child process (trm.train_worker): a real child runs trm.train, the parent swaps
its checkpoint in; a killed or failing child leaves the old model; stop() keeps what it has; a
child whose parent dies exits. Small budgets keep each run to a few seconds (most of it the
child importing torch)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from tests.unit.trm.test_train import toy_log  # noqa: E402
from trm.train_config import TrainConfig  # noqa: E402
from trm.train_worker import WorkerError, WorkerTrainer  # noqa: E402
from trm.trm_ranker import ModelHolder, TRMRanker, checkpoints  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
QUICK = TrainConfig(min_outcomes=20, time_budget_s=1.0, min_steps=1, threads=1)
LONG = TrainConfig(min_outcomes=20, time_budget_s=60.0, min_steps=5000, max_steps=5000,
                   threads=1)  # fmt: skip


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_child_process_trains_and_the_parent_swaps_its_model_in(tmp_path: Path) -> None:
    holder = ModelHolder()
    progress: list[tuple[int, int, float]] = []
    done: list[Any] = []
    worker = WorkerTrainer(
        tmp_path / "trm", holder, train=QUICK, keep=1, progress=lambda *a: progress.append(a),
        on_done=lambda result, error: done.append((result, error)),
    )  # fmt: skip
    assert not worker.start(toy_log(10))  # too few outcomes: no child
    assert worker.proc is None
    log = toy_log(60)
    assert worker.start(log)
    assert not worker.start(log)  # one at a time
    until(lambda: worker.pid is not None or not worker.running)
    pid = worker.pid
    assert pid is not None and pid != os.getpid()
    assert worker.wait(60)
    assert done == [(worker.last_result, None)] and worker.last_error is None
    result = worker.last_result
    assert result is not None and result["pid"] == pid and result["version"] == 1
    assert result["outcomes"] == 60 and result["steps"] >= 1
    assert progress and progress[-1][1] >= progress[-1][0] >= 1
    assert holder.version == 1 and worker.last_path == tmp_path / "trm" / "trm-v1.pt"
    ranker = TRMRanker(holder)
    o = log[0]
    assert len(ranker.score(o["context"], o["candidates"])) == len(o["candidates"])
    assert ranker.last_used == "trm"  # the swapped-in model ranks
    assert not alive(pid) and worker.pid is None
    # a second run: v2 saved, v1 pruned (keep=1); the outcome file never stays behind
    assert worker.start(log) and worker.wait(60) and worker.last_error is None
    assert [v for v, _ in checkpoints(tmp_path / "trm")] == [2] and holder.version == 2
    assert sorted(p.name for p in (tmp_path / "trm").iterdir()) == ["trm-v2.json", "trm-v2.pt"]


def test_a_killed_child_leaves_the_old_model_and_says_why(tmp_path: Path) -> None:
    holder = ModelHolder("old", 7)
    progress: list[Any] = []
    worker = WorkerTrainer(tmp_path / "trm", holder, train=LONG,
                           progress=lambda *a: progress.append(a))  # fmt: skip
    assert worker.start(toy_log(60))
    until(lambda: bool(progress))  # training, not just starting
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert worker.wait(30)
    assert isinstance(worker.last_error, WorkerError)
    assert f"training process {pid} killed by signal 9" in str(worker.last_error)
    assert holder.get_versioned() == ("old", 7) and worker.last_result is None
    assert checkpoints(tmp_path / "trm") == [] and not alive(pid)
    assert list((tmp_path / "trm").iterdir()) == []  # the outcome file is gone too


def test_stop_ends_the_child_early_and_keeps_what_it_trained(tmp_path: Path) -> None:
    holder = ModelHolder()
    progress: list[Any] = []
    worker = WorkerTrainer(tmp_path / "trm", holder, train=LONG,
                           progress=lambda *a: progress.append(a))  # fmt: skip
    assert worker.start(toy_log(60))
    until(lambda: bool(progress))
    pid = worker.pid
    worker.stop()
    assert worker.wait(30), "the child did not stop"
    result = worker.last_result
    assert worker.last_error is None and result is not None
    assert result["stopped_by_budget"] and 1 <= result["steps"] < 5000
    assert holder.version == 1 and pid is not None and not alive(pid)


def test_close_kills_a_child_that_does_not_stop(tmp_path: Path) -> None:
    holder = ModelHolder("old", 1)
    worker = WorkerTrainer(tmp_path / "trm", holder, train=LONG)
    assert worker.start(toy_log(60))
    until(lambda: worker.pid is not None)
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it cannot read "stop": close() has to kill it
    worker.close(timeout=1.0)
    assert not worker.running and not alive(pid)
    assert isinstance(worker.last_error, WorkerError) and holder.get_versioned() == ("old", 1)


def test_a_failing_child_reports_its_error(tmp_path: Path) -> None:
    holder = ModelHolder("old", 7)
    bad = TrainConfig(min_outcomes=20, time_budget_s=1.0, batch_size=0, threads=1)
    worker = WorkerTrainer(tmp_path / "trm", holder, train=bad)
    assert worker.start(toy_log(30)) and worker.wait(60)
    assert isinstance(worker.last_error, WorkerError)
    assert str(worker.last_error).startswith("ZeroDivisionError")  # the child's one-line error
    assert holder.get_versioned() == ("old", 7) and checkpoints(tmp_path / "trm") == []


def test_an_unwritable_model_directory_fails_before_any_child(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    holder = ModelHolder("old", 7)
    worker = WorkerTrainer(blocker / "trm", holder, train=QUICK)
    assert worker.start(toy_log(30)) and worker.wait(60)
    assert isinstance(worker.last_error, OSError) and worker.proc is None
    assert holder.get_versioned() == ("old", 7)


@contextlib.contextmanager
def parent_with_a_child(
    tmp_path: Path, before_print: str = ""
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A parent process that starts a long training child, runs `before_print`, then prints
    the child's pid and sleeps; yields the parent and that pid, and kills the parent if it is
    still there."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1])\n"
        "from tests.unit.trm.test_train import toy_log\n"
        "from trm.train_config import TrainConfig\n"
        "from trm.train_worker import WorkerTrainer, pause_children\n"
        "from trm.trm_ranker import ModelHolder\n"
        "w = WorkerTrainer(sys.argv[2], ModelHolder(), train=TrainConfig(min_outcomes=20,"
        " time_budget_s=60, min_steps=5000, max_steps=5000, threads=1))\n"
        "w.start(toy_log(40))\n"
        "while w.pid is None: time.sleep(0.01)\n"
        f"{before_print}"
        "print(w.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code, str(ROOT), str(tmp_path / "trm")], stdout=subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        yield parent, int(parent.stdout.readline())
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_the_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    with parent_with_a_child(tmp_path) as (parent, pid):
        assert alive(pid)
        parent.kill()  # no atexit, no cleanup: only the child's own watch can end it
        parent.wait()
        until(lambda: not alive(pid), timeout=10)


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_pause_stops_a_child_and_resume_lets_it_finish(tmp_path: Path) -> None:
    from trm.train_worker import pause_children, resume_children

    holder = ModelHolder()
    worker = WorkerTrainer(tmp_path / "trm", holder, train=QUICK, keep=1)
    assert worker.start(toy_log(40))
    until(lambda: worker.pid is not None)
    pid = worker.pid
    assert pid is not None
    pause_children()
    until(lambda: state(pid) == "T", timeout=10)
    time.sleep(0.3)
    assert state(pid) == "T" and worker.running  # stopped, not gone
    resume_children()
    assert worker.wait(60)
    assert worker.last_error is None and worker.last_result is not None
    assert holder.version == worker.last_result["version"]


def test_a_stopped_child_still_dies_with_its_parent(tmp_path: Path) -> None:
    """A stopped child cannot run the threads that watch its parent: PR_SET_PDEATHSIG kills it."""
    # past the child's start, where it arms the signal, then stopped
    with parent_with_a_child(tmp_path, "time.sleep(2)\npause_children()\n") as (parent, pid):
        until(lambda: not alive(pid) or state(pid) == "T", timeout=10)
        assert alive(pid)
        parent.kill()
        parent.wait()
        until(lambda: not alive(pid), timeout=10)
