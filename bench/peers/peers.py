#!/usr/bin/env python3
"""peers.py — one MoE least squares problem through scipy, PyTorch and moelab.

The problem: a data CSV written by `moelab simulate` (columns x1, y; d = 1)
and a starting model written by moelab (JSON, "atoms": beta0, beta1[0],
eta = [a, b]).  The model, for k atoms,

    f(x) = sum_i g_i(x) h(a_i x + b_i),
    sigmoid gate g_i = sigma(beta1_i x + beta0_i),
    softmax gate g   = softmax over atoms of beta1_i x + beta0_i,
    GELU h(u) = u Phi(u) (exact erf), ReLU h(u) = max(u, 0),

parameters per atom (beta0, beta1, a, b).  Objective: SSE = sum (y - f)^2.

The problem is the least squares estimator of moelab: SSE minimised over the
box Theta (moelab's default, every parameter in [-10, 10]; --box changes it).
Without the box the optimisers reach different points: over-specified fits
drift, e.g. a gate slope to 13 on the sigmoid/GELU problem, where the SSE is
lower than anywhere in Theta, so an unbounded peer does not solve the same
problem.

Fitted three ways from the same start, on one thread:
  scipy   scipy.optimize.least_squares, method 'trf' with bounds = the box,
          analytic Jacobian (numpy), ftol = xtol = gtol = 1e-15, max_nfev 100000
  torch   torch.optim.LBFGS (strong Wolfe line search, float64) on SSE/n in
          the variables phi of theta = c + r tanh(phi), which maps the real
          line onto the open box (L-BFGS has no bounds); steps repeated until
          the objective stops changing
  moelab  `moelab fit --threads 1 --init model:START --perturb 0` (k from
          the start), timed by the fit's own clock ("fit"."seconds") and as a
          whole process
The final SSE of every engine is recomputed here with the same numpy code.
Timings exclude reading the data (for moelab: its own clock does; the
process time, printed too, includes starting up and parsing the CSV).

Usage: peers.py --data D.csv --start S.json --moelab BIN [--label TEXT] [--reps R]
Prints one block of the table; run.sh prints the header and the problems.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.optimize
import scipy.special
import torch

SQRT1_2 = 1.0 / math.sqrt(2.0)
INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def read_csv(path):
    with open(path) as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    cols = {name: i for i, name in enumerate(header)}
    return data[:, cols["x1"]].copy(), data[:, cols["y"]].copy()


def read_model(path):
    with open(path) as fh:
        m = json.load(fh)
    if m["d"] != 1:
        raise SystemExit("peers.py: only d = 1 models")
    theta = []
    for atom in m["atoms"]:
        theta += [atom["beta0"], atom["beta1"][0], atom["eta"][0], atom["eta"][1]]
    return m["gate"], m["expert"], np.array(theta, dtype=np.float64)


# ---------------------------------------------------------------- numpy model

def np_expert(expert, u):
    if expert == "gelu":
        Phi = 0.5 * scipy.special.erfc(-u * SQRT1_2)
        return u * Phi, Phi + u * INV_SQRT2PI * np.exp(-0.5 * u * u)
    if expert == "relu":
        pos = u > 0
        return np.where(pos, u, 0.0), pos.astype(np.float64)
    raise SystemExit("peers.py: expert must be gelu or relu")


def np_model(gate, expert, theta, x, jac=False):
    t = theta.reshape(-1, 4)
    z = t[:, 0][None, :] + x[:, None] * t[:, 1][None, :]  # n x k
    u = x[:, None] * t[:, 2][None, :] + t[:, 3][None, :]
    h, dh = np_expert(expert, u)
    if gate == "sigmoid":
        g = scipy.special.expit(z)
    else:
        zm = z - z.max(axis=1, keepdims=True)
        e = np.exp(zm)
        g = e / e.sum(axis=1, keepdims=True)
    f = (g * h).sum(axis=1)
    if not jac:
        return f
    if gate == "sigmoid":
        cs = g * scipy.special.expit(-z) * h
    else:
        cs = g * (h - f[:, None])
    cu = g * dh
    J = np.empty((x.size, theta.size))
    J[:, 0::4] = cs
    J[:, 1::4] = cs * x[:, None]
    J[:, 2::4] = cu * x[:, None]
    J[:, 3::4] = cu
    return f, J


def sse(gate, expert, theta, x, y):
    r = np_model(gate, expert, theta, x) - y
    return float(r @ r)


def grad_inf(gate, expert, theta, x, y):
    """|grad SSE|_inf = |2 J^T r|_inf at theta."""
    f, J = np_model(gate, expert, theta, x, jac=True)
    return float(np.abs(2.0 * (J.T @ (f - y))).max())


# ---------------------------------------------------------------- engines

def run_scipy(gate, expert, theta0, x, y, box):
    def fun(th):
        return np_model(gate, expert, th, x) - y

    def jac(th):
        return np_model(gate, expert, th, x, jac=True)[1]

    t0 = time.perf_counter()
    res = scipy.optimize.least_squares(fun, np.clip(theta0, box[0], box[1]), jac=jac, method="trf", ftol=1e-15,
                                       xtol=1e-15, gtol=1e-15, max_nfev=100000, bounds=box)
    secs = time.perf_counter() - t0
    why = {0: "max_nfev", 1: "gtol", 2: "ftol", 3: "xtol", 4: "ftol+xtol"}.get(res.status, str(res.status))
    return secs, res.x, "nfev %d, njev %d, stop %s" % (res.nfev, res.njev, why)


def run_torch(gate, expert, theta0, x, y, box):
    torch.set_num_threads(1)
    X = torch.from_numpy(x)
    Y = torch.from_numpy(y)
    n = float(x.size)
    c, r = 0.5 * (box[0] + box[1]), 0.5 * (box[1] - box[0])
    u0 = np.clip((theta0 - c) / r, -1 + 1e-12, 1 - 1e-12)
    ph = torch.tensor(np.arctanh(u0), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ph], lr=1.0, max_iter=1000, max_eval=1250, tolerance_grad=1e-12,
                            tolerance_change=1e-15, history_size=100, line_search_fn="strong_wolfe")

    def model(q):
        t = (c + r * torch.tanh(q)).view(-1, 4)
        z = t[:, 0][None, :] + X[:, None] * t[:, 1][None, :]
        u = X[:, None] * t[:, 2][None, :] + t[:, 3][None, :]
        if expert == "gelu":
            h = u * (0.5 * torch.special.erfc(-u * SQRT1_2))
        else:
            h = torch.relu(u)
        g = torch.sigmoid(z) if gate == "sigmoid" else torch.softmax(z, dim=1)
        return (g * h).sum(dim=1)

    evals = [0]

    def closure():
        opt.zero_grad()
        res = model(ph) - Y
        loss = (res * res).sum() / n
        loss.backward()
        evals[0] += 1
        return loss

    t0 = time.perf_counter()
    prev = math.inf
    rounds = 0
    while rounds < 100:  # until a whole LBFGS call no longer changes the objective
        rounds += 1
        loss = float(opt.step(closure))
        cur = float(closure())
        if not (cur < prev - 1e-15 * abs(prev)):
            break
        prev = cur
    secs = time.perf_counter() - t0
    iters = opt.state[opt._params[0]].get("n_iter", 0)
    th = c + r * np.tanh(ph.detach().numpy())
    return secs, th, "iterations %d, evaluations %d" % (iters, evals[0])


def run_moelab(binary, data, start, tmp, box, extra):
    out = os.path.join(tmp, "fit.json")
    b = "%r,%r" % box
    cmd = [binary, "fit", data, "--init", "model:" + start, "--perturb", "0", "--threads", "1", "-q", "-o", out,
           "--box-beta0", b, "--box-beta1", b, "--box-eta", b] + extra
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    with open(out) as fh:
        fit = json.load(fh)["fit"]
    _, _, theta = read_model(out)
    return fit["seconds"], wall, theta, "iterations %d, stop %s, converged %s" % (
        fit["iterations"], fit["stop"], "yes" if fit["converged"] else "NO")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--moelab", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--reps", type=int, default=3,
                    help="timed repetitions per engine (median); fewer when one run takes over 5 s")
    ap.add_argument("--box", default="-10,10", help="LO,HI: the box of every parameter (moelab's default)")
    ap.add_argument("--moelab-args", default="", help="further options of moelab fit (e.g. --newton)")
    a = ap.parse_args()
    box = tuple(float(v) for v in a.box.split(","))
    extra = a.moelab_args.split()
    x, y = read_csv(a.data)
    gate, expert, theta0 = read_model(a.start)
    label = a.label or "%s/%s" % (gate, expert)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        res = {}
        for name in ("scipy trf", "torch L-BFGS", "moelab"):
            times, walls = [], []
            for rep in range(a.reps):
                if rep > 0 and times[0] > 5.0:
                    break
                if name == "scipy trf":
                    t, th, note = run_scipy(gate, expert, theta0, x, y, box)
                elif name == "torch L-BFGS":
                    t, th, note = run_torch(gate, expert, theta0, x, y, box)
                else:
                    t, w, th, note = run_moelab(a.moelab, a.data, a.start, tmp, box, extra)
                    walls.append(w)
                times.append(t)
            nb = int(np.sum((th <= box[0] + 1e-9 * (abs(box[0]) + 1)) | (th >= box[1] - 1e-9 * (abs(box[1]) + 1))))
            note += ", %d on the box" % nb
            res[name] = (float(np.median(times)), float(np.median(walls)) if walls else None, th, note)
    obj = {k: sse(gate, expert, v[2], x, y) for k, v in res.items()}
    grd = {k: grad_inf(gate, expert, v[2], x, y) for k, v in res.items()}
    peers = ["scipy trf", "torch L-BFGS"]
    fastest = min(peers, key=lambda k: res[k][0])
    best = min(peers, key=lambda k: obj[k])
    for name in ("scipy trf", "torch L-BFGS", "moelab"):
        t, wall, _, note = res[name]
        tcol = "%.4f" % t + ("" if wall is None else " (process %.3f)" % wall)
        rows.append("%-13s %-13s %-24s %17.10f %+10.2e %9.1e %9.2f  %s" % (
            label if name == "scipy trf" else "", name, tcol, obj[name], (obj[name] - obj[best]) / obj[best],
            grd[name], res[fastest][0] / t, note))
    print("\n".join(rows))
    tm = res["moelab"][0]
    speed = res[fastest][0] / tm
    rel = (obj["moelab"] - obj[best]) / obj[best]
    def times(x):
        return "%.1fx faster than" % x if x >= 1 else "%.1fx SLOWER than" % (1.0 / x)

    print("%-13s => moelab is %s the fastest peer (%s) by the fit clock, %s it by process time; objective "
          "%+.2e relative to the best peer (%s): speed target 20x %s, objective %s" % (
              "", times(speed), fastest, times(res[fastest][0] / res["moelab"][1]), rel, best,
              "met" if speed >= 20 else "NOT met", "no worse" if rel <= 1e-12 else "WORSE"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
