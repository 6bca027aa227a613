"""datatrove's WarcReader + Trafilatura pipeline on one core, as its users run it.

Started by bench_pipeline.py in a subprocess of ``--datatrove-python`` (default: the project's
Python with the bench extra), it prints one JSON line: {"docs", "seconds"}.

    python datatrove_baseline.py WARC_FOLDER GLOB
"""

import json
import sys
import tempfile
import time


def main() -> None:
    folder, pattern = sys.argv[1], sys.argv[2]
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    counted = {"docs": 0}

    def count(data, rank: int = 0, world_size: int = 1):
        for doc in data:
            counted["docs"] += 1
            yield doc

    with tempfile.TemporaryDirectory() as logs:
        executor = LocalPipelineExecutor(
            pipeline=[
                WarcReader(folder, glob_pattern=pattern),
                Trafilatura(favour_precision=True, timeout=5.0),
                count,
            ],
            tasks=1,
            workers=1,
            logging_dir=logs,
        )
        t0 = time.perf_counter()
        executor.run()
        seconds = time.perf_counter() - t0
    print(json.dumps({"docs": counted["docs"], "seconds": seconds}))


if __name__ == "__main__":
    main()
