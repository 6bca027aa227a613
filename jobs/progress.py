"""Progress lines for long Spark stages: tasks done / total every few seconds, on stderr."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@contextmanager
def stage_progress(spark, stage: str, every_s: float = 5.0):
    """Print ``[stage] tasks a/b, t s`` while the body runs; yields a dict for the caller's
    final figures. Reads Spark's status tracker, so it costs nothing on the executors."""
    tracker = spark.sparkContext.statusTracker()
    stop = threading.Event()
    t0 = time.perf_counter()

    def poll() -> None:
        while not stop.wait(every_s):
            done = total = 0
            for sid in tracker.getActiveStageIds():
                info = tracker.getStageInfo(sid)
                if info:
                    done += info.numCompletedTasks
                    total += info.numTasks
            if total:
                say(f"[{stage}] tasks {done}/{total}, {time.perf_counter() - t0:.0f} s")

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    figures: dict = {}
    try:
        yield figures
    finally:
        stop.set()
        figures["seconds"] = time.perf_counter() - t0
