"""Training the TRM in a child process, off the server's request path.

A training run inside the server is mostly Python overhead holding the GIL for up to
trm.trainTimeBudgetS, so code actions would wait on it; a child process has its own interpreter,
its own torch threads (trm.trainThreads) and the lowest CPU priority (SCHED_IDLE: it runs when a
core is otherwise idle, so on a busy machine the editor's requests go first).

    worker = WorkerTrainer(directory, holder, train=TrainConfig(...), keep=3, progress=report)
    worker.start(outcomes)   # False if running or < min_outcomes; never blocks on training
    worker.wait(); worker.last_result  # the summary dict, the new model swapped into `holder`

The parent side (WorkerTrainer) never imports torch except to load the finished checkpoint.
The child is `python -m trm.train_worker`:
  stdin   first line: the job, JSON {"outcomes": file, "directory", "keep", "train": {...}};
          then "stop" lines (stop at the next step and save what it has); EOF means the parent
          is gone, and the child exits at once (it also watches its parent's pid)
  stdout  JSON lines: {"progress": [step, total, loss]} (at most ~10 a second), then one
          {"result": {...}} (the checkpoint saved, meta written, old checkpoints pruned) or
          {"error": "one line"}
  stderr  its log; the parent keeps the last lines to explain a crash.
The outcome log goes through a temporary file in `directory` that the parent deletes.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from trm.runner import BackgroundRun
from trm.train_config import TrainConfig

__all__ = ["WorkerTrainer", "WorkerError"]

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.1
_LIVE: set[subprocess.Popen[bytes]] = set()  # killed and reaped when the parent exits
_LIVE_LOCK = threading.Lock()


class WorkerError(Exception):
    """The training process failed: it reported an error, crashed or was killed."""


def _kill_live() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE)
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(5)


atexit.register(_kill_live)


def pause_children() -> None:
    """Stop every training child (SIGSTOP) while the editor waits on a request (server.foreground:
    even at SCHED_IDLE a running child slowed code actions 1.4x on a 2-core machine)."""
    _signal_live(signal.SIGSTOP)


def resume_children() -> None:
    _signal_live(signal.SIGCONT)


def _signal_live(sig: int) -> None:
    with _LIVE_LOCK:
        for proc in _LIVE:
            with contextlib.suppress(OSError):
                proc.send_signal(sig)  # a no-op once the child is reaped: its pid is not reused


class WorkerTrainer(BackgroundRun[dict[str, Any]]):
    """Trains in a child process, then loads its checkpoint and swaps it into `holder`.

    trm.runner.BackgroundRun's shape, as trm.train.BackgroundTrainer (start, stop, wait,
    running, last_result, last_error, last_path), but last_result is the run's summary dict,
    not the model."""

    thread_name = "kenetic-trm-worker"
    proc: subprocess.Popen[bytes] | None = None  # the running child, once started

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def _args(self, outcomes: list[dict[str, Any]]) -> tuple[Any, ...]:
        self.last_result = self.last_error = None
        return ([outcomes],)  # boxed: the thread lets go of it once the child has it (_run)

    def stop(self) -> None:
        """Ask the child to stop at its next step; it still saves what it has and reports."""
        proc = self.proc
        if proc is not None and proc.stdin is not None and proc.returncode is None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.write(b"stop\n")
                proc.stdin.flush()

    def kill(self) -> None:
        """End the child now (nothing saved, the old model stays); it is reaped by wait()."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(OSError):
                proc.kill()

    def close(self, timeout: float = 5.0) -> None:
        """stop(), give the child `timeout` seconds to save, then kill it; reaped on return."""
        self.stop()
        if not self.wait(timeout):
            self.kill()
            self.wait(timeout)

    # -- the parent's side of one run -----------------------------------------------------------

    def _run(self, box: list[list[dict[str, Any]]]) -> None:
        """The log comes boxed so that no frame holds it once it is written: the server's full
        garbage collections would walk its objects for the whole run."""
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        log_file = self.directory / f".outcomes-{uuid.uuid4().hex[:12]}.json.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _remove_stale(self.directory)
            log_file.write_text(json.dumps(box.pop(), separators=(",", ":")))
            result = self._child(log_file)
            path = Path(result["checkpoint"])
            from trm.checkpoint import load  # imports torch: the parent serves the new model

            self.holder.swap(load(path), int(result["version"]))
            self.last_path = path
            log.info("TRM v%s trained in process %s: %s", result["version"], result["pid"], result)
        except Exception as e:  # a failed training leaves the old model in place
            error = e
            log.warning("TRM training failed; the current ranker stays: %s", e)
        finally:
            with contextlib.suppress(OSError):
                log_file.unlink()
        self._finish(result, error)

    def _child(self, log_file: Path) -> dict[str, Any]:
        threads = self.train_config.threads or 1
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "KENETIC_TRAIN_PARENT": str(os.getpid()),
        }
        job = {
            "outcomes": str(log_file),
            "directory": str(self.directory),
            "keep": self.keep,
            "train": asdict(self.train_config),
        }
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen(
            [sys.executable, "-m", "trm.train_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root,
        )  # fmt: skip
        with _LIVE_LOCK:
            _LIVE.add(proc)
        self.proc = proc
        tail: deque[str] = deque(maxlen=20)
        drain = threading.Thread(
            target=_drain, args=(proc.stderr, tail), name="kenetic-trm-worker-log", daemon=True
        )
        drain.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(job).encode() + b"\n")
                proc.stdin.flush()
            except OSError:
                pass  # it died at once: its exit status and log say why, below
            result, error = self._read(proc.stdout)
            with _LIVE_LOCK:  # out of the foreground gate's reach before it is reaped
                _LIVE.discard(proc)
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGCONT)  # were it stopped while exiting
            code = proc.wait()
            drain.join(5)
        finally:
            # stdin stays open until the child is done: its EOF tells the child we are gone
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # type: ignore[union-attr]
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            with _LIVE_LOCK:
                _LIVE.discard(proc)
        if error is not None:
            raise WorkerError(error)
        if result is None:
            why = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
            last = f": {tail[-1]}" if tail else ""
            raise WorkerError(f"training process {proc.pid} {why}{last}")
        return result

    def _read(self, out: IO[bytes]) -> tuple[dict[str, Any] | None, str | None]:
        result: dict[str, Any] | None = None
        error: str | None = None
        for raw in out:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue  # not ours: the protocol is JSON lines only
            if not isinstance(msg, dict):
                continue
            if "progress" in msg and self.progress is not None:
                step, total, loss = msg["progress"]
                try:
                    self.progress(int(step), int(total), math.nan if loss is None else loss)
                except Exception:
                    log.exception("training progress listener failed")
            elif isinstance(msg.get("result"), dict):
                result = msg["result"]
            elif "error" in msg:
                error = str(msg["error"])
        return result, error


def _remove_stale(directory: Path, age_s: float = 3600.0) -> None:
    """Outcome files left by a server that was killed mid-run (another server may be using a
    fresh one: only old ones go)."""
    cutoff = time.time() - age_s
    for p in directory.glob(".outcomes-*.json.tmp"):
        with contextlib.suppress(OSError):
            if p.stat().st_mtime < cutoff:
                p.unlink()


def _drain(err: IO[bytes] | None, tail: deque[str]) -> None:
    if err is None:
        return
    for raw in err:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            log.debug("train worker: %s", line)


# -- the child -------------------------------------------------------------------------------


def _watch_parent(parent: int, stop: threading.Event, done: threading.Event) -> None:
    """Read "stop" lines; at EOF, or when the parent's pid is gone, exit at once."""

    def lines() -> None:
        for line in sys.stdin.buffer:
            if line.strip() == b"stop":
                stop.set()
        if not done.is_set():
            os._exit(3)  # the parent closed our stdin or died: nobody waits for a model

    def pid() -> None:
        while not done.wait(1.0):
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=lines, daemon=True).start()
    if parent > 1:
        threading.Thread(target=pid, daemon=True).start()


def _yield_cpu() -> None:
    """Run only when a CPU is otherwise idle (Linux SCHED_IDLE; threads started later, torch's
    included, inherit it), else at the lowest priority. At nice +10 a training still took a
    core from the editor on a busy 2-core machine: code action p95 went 3.4x up during training,
    as much as under any busy process (tests/bench/train_serve.py)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        with contextlib.suppress(OSError):
            os.nice(19)


def _die_with_parent(parent: int) -> None:
    """SIGKILL when the server goes (Linux PR_SET_PDEATHSIG): the server stops this process
    while a request is in flight (server.foreground), and a stopped process cannot run the
    threads that watch its parent."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
    if parent > 1 and os.getppid() != parent:
        os._exit(3)  # the parent went before the signal was armed


def main() -> int:
    # JSON lines go to the real stdout only; anything else printed lands on stderr
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    parent = int(os.environ.get("KENETIC_TRAIN_PARENT") or os.getppid())
    _die_with_parent(parent)
    _yield_cpu()

    def send(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    try:
        job = json.loads(sys.stdin.buffer.readline())
        train = TrainConfig(**job["train"])
        directory, keep = Path(job["directory"]), max(1, int(job["keep"]))
        outcomes = json.loads(Path(job["outcomes"]).read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        send({"error": f"bad training job: {e}"})
        return 2
    done = threading.Event()
    last = [0.0]

    def progress(step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or step >= total:
            last[0] = now
            send({"progress": [step, total, loss if math.isfinite(loss) else None]})

    import torch

    torch.set_num_threads(train.threads or 1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    from trm.train import Trainer, save_run

    trainer = Trainer(train=train, progress=progress)
    _watch_parent(parent, trainer.stop_event, done)
    try:
        result = trainer.train(outcomes)
        if result is None:
            send({"error": f"too few outcomes: {len(outcomes)} < {train.min_outcomes}"})
            return 1
        version, path = save_run(result, directory, keep)
    except Exception as e:
        log.exception("training failed")
        send({"error": f"{type(e).__name__}: {e}"})
        return 1
    finally:
        done.set()
    send({"result": {**result.summary(), "version": version, "checkpoint": str(path),
                     "pid": os.getpid()}})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
