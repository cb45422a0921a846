#!/usr/bin/python3
"""numpy.memmap of one tensor and a full sum of it, timed (interpreter start
and the numpy import excluded).

    npmemmap.py PATH OFFSET NBYTES

Prints one JSON object: bytes, seconds, MBps, check (the sum).
"""
import json
import sys
import time

import numpy as np


def main():
    path, off, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = time.monotonic()
    a = np.memmap(path, dtype=np.uint16, mode="r", offset=off, shape=(nbytes // 2,))
    s = int(a.sum(dtype=np.uint64))
    del a
    secs = time.monotonic() - t0
    print(json.dumps({"bytes": nbytes, "seconds": round(secs, 6),
                      "MBps": round(nbytes / secs / 1e6, 1), "check": s}))


if __name__ == "__main__":
    main()
