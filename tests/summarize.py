#!/usr/bin/env python3
"""Count test cases from meson's testlog.json.

A Check program prints "NN%: Checks: X, Failures: Y, Errors: Z"; its cases
count one by one. Any other test counts as one. A program that failed
without a Check line (crash, timeout, sanitizer abort) counts as one failure.
Prints per-program lines, then the closing "N passed, N failed".
Exit status 1 when anything failed.
"""
import json
import re
import sys

CHECK_LINE = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def main():
    path = sys.argv[1]
    passed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    failed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        print(f"summarize: cannot read {path}: {e}")
        lines = []
        failed += 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL")
        m = CHECK_LINE.findall(out)
        if m:
            checks = sum(int(a) for a, _, _ in m)
            bad = sum(int(b) + int(c) for _, b, c in m)
            if not ok and bad == 0:
                bad = 1
            passed += checks - min(bad, checks)
            failed += bad
            print(f"  {t['name']}: {checks - min(bad, checks)} passed, {bad} failed")
        elif t.get("result") == "SKIP":
            print(f"  {t['name']}: skipped")
        else:
            passed += 1 if ok else 0
            failed += 0 if ok else 1
            print(f"  {t['name']}: {t.get('result')}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
