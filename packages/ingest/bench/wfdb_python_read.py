"""Baseline for bench/ingest.ts: wfdb-python reading and converting to physical units the records
listed in a record list. Prints one JSON line: records, wall and CPU seconds, peak RSS."""
import csv
import json
import os
import resource
import sys
import time

import wfdb

source, record_list = sys.argv[1], sys.argv[2]
wall_start, cpu_start = time.perf_counter(), time.process_time()
records = 0
samples = 0
with open(os.path.join(source, record_list), newline="") as listing:
    for row in csv.DictReader(listing):
        record = wfdb.rdrecord(os.path.join(source, row["path"]))  # physical=True: float64 mV
        samples += record.p_signal.size
        records += 1
print(json.dumps({
    "records": records,
    "samples": samples,
    "wallSeconds": time.perf_counter() - wall_start,
    "cpuSeconds": time.process_time() - cpu_start,
    "maxRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
