#!/usr/bin/env python3
"""ab.py — before/after: two builds' bench_eval and bench_fit side by side.

Runs OLD/bench/bench_eval, NEW/bench/bench_eval and bench_fit --only CASE of
both builds alternately (ABBA order, so slow drifts of a shared machine hit
both alike) for R rounds, and prints the medians with the new/old ratios,
and the best of the R rounds (fastest time, highest rate), which other jobs
on a shared machine disturb least.
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
    print("\n## bench_eval: rows per second, k = 3, 1 thread: median (best) of the rounds")
    print("%-8s %-8s %3s | %22s %22s %11s | %22s %22s %11s" % ("gate", "expert", "d", "f old", "f new", "x",
                                                               "J old", "J new", "x"))
    for key in ev["old"][0]:
        cols = []
        for i in range(2):
            o = [e[key][i] for e in ev["old"]]
            n = [e[key][i] for e in ev["new"]]
            mo, mn, bo, bn = statistics.median(o), statistics.median(n), max(o), max(n)
            cols.append("%10.3e (%9.3e) %10.3e (%9.3e) %4.2f (%4.2f)" % (mo, bo, mn, bn, mn / mo, bn / bo))
        print("%-8s %-8s %3d | %s | %s" % (key + tuple(cols)))
    print("\n## bench_fit --only CASE: fit seconds and kernel ns per row (f + J, f + J + 2nd): median (best)")
    print("%-12s | %9s %9s %11s | %9s | %15s %15s %15s %15s" % (
        "case", "fit old", "fit new", "x", "iters", "J old", "J new", "2nd old", "2nd new"))
    for c in cases:
        o = [f for f in fits[(c, "old")] if f[0]]
        n = [f for f in fits[(c, "new")] if f[0]]
        to = [f[0][0] for f in o]
        tn = [f[0][0] for f in n]
        it_o = {f[0][2] for f in o}
        it_n = {f[0][2] for f in n}
        iters = "%d" % min(it_o) if it_o == it_n and len(it_o) == 1 else "DIFFER %s/%s" % (sorted(it_o), sorted(it_n))
        kern = []
        for i in (1, 2):
            for fs in (o, n):
                v = [f[1][i] for f in fs]
                kern.append("%6.1f (%6.1f)" % (statistics.median(v), min(v)))
        mo, mn = statistics.median(to), statistics.median(tn)
        print("%-12s | %9.4f %9.4f %4.2f (%4.2f) | %9s | %s %s %s %s" % (
            (c, mo, mn, mo / mn, min(to) / min(tn), iters) + tuple(kern)))
    print("\n(x: old/new for times, new/old for rates: above 1 means the new build is faster)")


if __name__ == "__main__":
    main()
