#!/usr/bin/python3
"""numpy.memmap (or numpy.fromfile) of one tensor and a full sum of it,
timed (interpreter start and the numpy import excluded).

    npmemmap.py PATH OFFSET NBYTES [memmap|fromfile]

Prints one JSON object: bytes, seconds, MBps, check (the sum).
"""
import json
import sys
import time

import numpy as np


def main():
    path, off, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    how = sys.argv[4] if len(sys.argv) > 4 else "memmap"
    t0 = time.monotonic()
    if how == "fromfile":
        a = np.fromfile(path, dtype=np.uint16, count=nbytes // 2, offset=off)
    else:
        a = np.memmap(path, dtype=np.uint16, mode="r", offset=off, shape=(nbytes // 2,))
    s = int(a.sum(dtype=np.uint64))
    del a
    secs = time.monotonic() - t0
    print(json.dumps({"bytes": nbytes, "seconds": round(secs, 6),
                      "MBps": round(nbytes / secs / 1e6, 1), "check": s}))


if __name__ == "__main__":
    main()
