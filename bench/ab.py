#!/usr/bin/env python3
"""ab.py — before/after: two builds' bench_eval and bench_fit side by side.

Runs OLD/bench/bench_eval, NEW/bench/bench_eval and bench_fit --only CASE of
both builds alternately (ABBA order, so slow drifts of a shared machine hit
both alike) for R rounds, and prints the medians with the new/old ratios.
Fits must take the same iterations in both builds (the kernels' results are
meant to be bit for bit the same); a difference is flagged.

Usage: bench/ab.py OLD_BUILD_DIR NEW_BUILD_DIR [--rounds R] [--cases 1:relu:1e5,1:gelu:1e4,...]
  e.g. build the previous commit in /tmp/before (git archive COMMIT | tar -x -C /tmp/before,
  cmake -S /tmp/before -B /tmp/before/build, cmake --build /tmp/before/build), then
  bench/ab.py /tmp/before/build build
"""
import argparse
import os
import statistics
import subprocess
import sys


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def parse_eval(text):
    out = {}
    for line in text.splitlines():
        w = line.split()
        if len(w) == 5 and w[0] in ("sigmoid", "softmax"):
            out[(w[0], w[1], int(w[2]))] = (float(w[3]), float(w[4]))
    return out


def parse_fit(text):
    """(fit s, s/iteration, iterations) from the fits table and the kernel ns/row."""
    fit, kern = None, None
    section = None
    for line in text.splitlines():
        if line.startswith("## fits"):
            section = "fits"
        elif line.startswith("## model kernels"):
            section = "kern"
        elif line.startswith(("## memory", "## where", "## machine", "## J'J")):
            section = None
        w = line.split()
        if not w or not w[0].isdigit():
            continue
        if section == "fits" and len(w) >= 12:
            fit = (float(w[5]), float(w[6]), int(w[7]))
        elif section == "kern" and len(w) >= 6:
            kern = (float(w[3]), float(w[4]), float(w[5]))
    return fit, kern


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cases", default="1:relu:1e5,1:gelu:1e4,4:relu:1e4,16:relu:1e3")
    a = ap.parse_args()
    builds = {"old": a.old, "new": a.new}
    cases = a.cases.split(",")
    ev = {"old": [], "new": []}
    fits = {(c, b): [] for c in cases for b in builds}
    for r in range(a.rounds):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for b in order:
            ev[b].append(parse_eval(run([os.path.join(builds[b], "bench", "bench_eval")])))
        for c in cases:
            for b in (order if r % 2 == 0 else order[::-1]):
                out = run([os.path.join(builds[b], "bench", "bench_fit"), "--only", c, "--dgemm-n", "100"])
                fits[(c, b)].append(parse_fit(out))
        print("round %d/%d done" % (r + 1, a.rounds), file=sys.stderr)

    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    print("# before/after, medians of %d alternating rounds (load average at the end: %s)" % (a.rounds, load))
    print("# old: %s   new: %s" % (a.old, a.new))
    print("\n## bench_eval: rows per second, k = 3, 1 thread")
    print("%-8s %-8s %3s | %12s %12s %6s | %12s %12s %6s" % ("gate", "expert", "d", "f old", "f new", "x",
                                                              "J old", "J new", "x"))
    for key in ev["old"][0]:
        fo = statistics.median(e[key][0] for e in ev["old"])
        fn = statistics.median(e[key][0] for e in ev["new"])
        jo = statistics.median(e[key][1] for e in ev["old"])
        jn = statistics.median(e[key][1] for e in ev["new"])
        print("%-8s %-8s %3d | %12.3e %12.3e %6.2f | %12.3e %12.3e %6.2f" % (key + (fo, fn, fn / fo, jo, jn, jn / jo)))
    print("\n## bench_fit --only CASE: fit seconds, seconds per iteration (medians), iterations;"
          " kernel ns per row (f + J, f + J + 2nd)")
    print("%-12s | %9s %9s %6s | %10s %10s %6s | %9s | %7s %7s %7s %7s" % (
        "case", "fit old", "fit new", "x", "s/it old", "s/it new", "x", "iters", "J old", "J new", "2nd old",
        "2nd new"))
    for c in cases:
        o = [f for f in fits[(c, "old")] if f[0]]
        n = [f for f in fits[(c, "new")] if f[0]]
        to = statistics.median(f[0][0] for f in o)
        tn = statistics.median(f[0][0] for f in n)
        io = statistics.median(f[0][1] for f in o)
        inew = statistics.median(f[0][1] for f in n)
        it_o = {f[0][2] for f in o}
        it_n = {f[0][2] for f in n}
        iters = "%d" % min(it_o) if it_o == it_n and len(it_o) == 1 else "DIFFER %s/%s" % (sorted(it_o), sorted(it_n))
        ko = [statistics.median(f[1][i] for f in o) for i in range(3)]
        kn = [statistics.median(f[1][i] for f in n) for i in range(3)]
        print("%-12s | %9.4f %9.4f %6.2f | %10.3e %10.3e %6.2f | %9s | %7.1f %7.1f %7.1f %7.1f" % (
            c, to, tn, to / tn, io, inew, io / inew, iters, ko[1], kn[1], ko[2], kn[2]))
    print("\n(x: old/new for times, new/old for rates: above 1 means the new build is faster)")


if __name__ == "__main__":
    main()
