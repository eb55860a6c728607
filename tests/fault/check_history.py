#!/usr/bin/env python3
"""Check a produce history against a final read of every partition.

  check_history.py HISTORY.jsonl READS.txt

HISTORY: JSON lines from repl_testcli produce --history (invoke / ok /
fail / unknown with partition, value = the record's sequence, offset).
READS: "partition offset seq" lines from repl_testcli read (every
partition from its start to its high watermark, after healing).

Reports, per TESTING.md "Checkers for fault runs":
  lost        an acknowledged record that was not read
  offset      an acknowledged offset holding another value than acked
  duplicate   a record read twice (idempotence is on)
  order       a partition whose records are not in sequence order
  failed_read a record whose every attempt definitely failed, read anyway
Exit 1 when any is found; the summary is one JSON line.
"""
import json
import sys
from collections import defaultdict


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    final = {}
    acked = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        h = json.loads(line)
        key = (h["partition"], h["value"])
        if h["type"] == "ok":
            acked[key] = h["offset"]
            final[key] = "ok"
        elif h["type"] in ("fail", "unknown"):
            if final.get(key) != "ok":
                final[key] = h["type"]
        elif h["type"] == "invoke":
            final.setdefault(key, "invoke")
    reads = defaultdict(list)
    for line in open(sys.argv[2]):
        p, off, seq = (int(x) for x in line.split())
        reads[p].append((off, seq))
    bad = defaultdict(list)
    read_at = {}
    for p, recs in reads.items():
        recs.sort()
        seen = set()
        last = -1
        for off, seq in recs:
            if seq in seen:
                bad["duplicate"].append((p, seq, off))
            seen.add(seq)
            if seq < last:
                bad["order"].append((p, seq, off))
            last = max(last, seq)
            read_at[(p, seq)] = off
            if final.get((p, seq)) == "fail":
                bad["failed_read"].append((p, seq, off))
    offsets = {(p, off): seq for p, recs in reads.items() for off, seq in recs}
    for key, off in acked.items():
        if key not in read_at:
            bad["lost"].append(key + (off,))
        elif offsets.get((key[0], off)) != key[1]:
            bad["offset"].append(key + (off,))
    summary = {
        "acked": len(acked),
        "read": sum(len(v) for v in reads.values()),
        "unknown": sum(1 for v in final.values() if v == "unknown"),
        "failed": sum(1 for v in final.values() if v == "fail"),
    }
    for k in ("lost", "offset", "duplicate", "order", "failed_read"):
        summary[k] = len(bad[k])
        if bad[k]:
            summary[k + "_first"] = bad[k][:5]
    print(json.dumps(summary))
    return 1 if any(bad[k] for k in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
