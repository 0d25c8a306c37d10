#!/usr/bin/env python3
"""dist_project.py: the figures of data-parallel training (issue 17) from the logs bench/dist_scale.sh writes, and
a projection of the speed-up on 8-64 machines from the measured compute and communication volume.

Network model (stated with every table): a ring allreduce of B bytes over P machines takes
2 (P - 1) / P * B / bw + 2 (P - 1) * lat, a ring allgather of B bytes in all (P - 1) / P * B / bw + (P - 1) * lat,
with bw = 10 or 25 Gbit/s per link and lat = 20 us per message step (TCP over Ethernet). A "machine" is this one
(2 cores): its compute time is the one-process figure measured here with 2 threads. The compute of a step is
assumed to divide by P (optimistic once a rank's share of the 256-user batch is a handful of users: small
matrix products run below peak); validation on rank 0 does not divide (Amdahl).

usage: dist_project.py --sasrec1 LOG --sasrec2 LOG --ials1 LOG --ials2 LOG [--ml20m-cpu S --ml20m-scale X]
"""
import argparse
import re
import sys

LAT = 20e-6
BWS = (10e9 / 8, 25e9 / 8)
PS = (8, 16, 32, 64)


def ring_allreduce(b, p, bw):
    return 0.0 if p == 1 else 2 * (p - 1) / p * b / bw + 2 * (p - 1) * LAT


def ring_allgather(b, p, bw):
    return 0.0 if p == 1 else (p - 1) / p * b / bw + (p - 1) * LAT


def read(path):
    with open(path) as f:
        return f.read()


def sasrec_epochs(log):
    """[(epoch, loss, ndcg, train_s, valid_s)] and [(epoch, MB/step, rows/step, comm_s)]"""
    ep = [(int(m[0]), float(m[1]), float(m[2]), float(m[3]), float(m[4])) for m in re.findall(
        r"sasrec epoch (\d+)  loss ([\d.]+)  valid NDCG@10 ([\d.]+) ?\*?  train ([\d.]+)s  valid ([\d.]+)s", log)]
    dist = [(int(m[0]), float(m[1]), float(m[2]), float(m[3])) for m in re.findall(
        r"sasrec epoch (\d+)  dist \d+ ranks: ([\d.]+) MB/step sent by this rank \(([\d.]+) of \d+ table rows/step\),"
        r" ([\d.]+)s in collectives", log)]
    return ep, dist


def ials_iters(log):
    return [(int(m[0]), float(m[1]), float(m[2]), float(m[3])) for m in re.findall(
        r"ials iter (\d+)  dist \d+ ranks: ([\d.]+)s, ([\d.]+) MB exchanged by this rank, ([\d.]+)s in collectives",
        log)]


def train_seconds(log):
    m = re.search(r"crec train: \S+ on .* in ([\d.]+)s ->", log)
    return float(m[1]) if m else float("nan")


def cpu_line(log):
    m = re.search(r"^cpu: user ([\d.]+) sys ([\d.]+) wall ([\d.]+)", log, re.M)
    return (float(m[1]), float(m[2]), float(m[3])) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sasrec1", required=True)
    ap.add_argument("--sasrec2", required=True)
    ap.add_argument("--ials1", required=True)
    ap.add_argument("--ials2", required=True)
    ap.add_argument("--users", type=int, default=22363, help="Beauty users (steps per epoch: users / batch)")
    ap.add_argument("--items", type=int, default=12101)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--ials-ld", type=int, default=64, help="iALS row stride (factors rounded up to 16)")
    ap.add_argument("--ials-iters", type=int, default=10)
    ap.add_argument("--ml20m-cpu", type=float, default=None,
                    help="CPU s per iALS iteration measured by bench_ials_scale at --ml20m-scale")
    ap.add_argument("--ml20m-wall", type=float, default=None, help="its wall s per iteration")
    ap.add_argument("--ml20m-scale", type=float, default=1.0)
    a = ap.parse_args()

    l1, l2 = read(a.sasrec1), read(a.sasrec2)
    e1, _ = sasrec_epochs(l1)
    e2, d2 = sasrec_epochs(l2)
    if not e1 or not e2:
        sys.exit("dist_project: no sasrec epoch lines in the logs (run with --verbose)")
    print("## Beauty, sasrec: 1 process (2 threads) vs 2 ranks (1 thread each), same seed and settings")
    print("| epoch | valid NDCG@10, 1 rank | 2 ranks | train s, 1 rank | 2 ranks | valid s (rank 0) | MB/step sent per rank, 2 ranks | table rows sent / step |")
    print("|---|---|---|---|---|---|---|---|")
    for k in range(max(len(e1), len(e2))):
        r1 = e1[k] if k < len(e1) else None
        r2 = e2[k] if k < len(e2) else None
        d = d2[k] if k < len(d2) else None
        print(f"| {k + 1} | {r1[2] if r1 else '-'} | {r2[2] if r2 else '-'} | {r1[3] if r1 else '-'} | "
              f"{r2[3] if r2 else '-'} | {r2[4] if r2 else '-'} | {d[1] if d else '-'} | {d[2] if d else '-'} |")
    b1, b2 = max(e1, key=lambda r: r[2]), max(e2, key=lambda r: r[2])
    print(f"best validation NDCG@10: 1 rank {b1[2]:.4f} (epoch {b1[0]}), 2 ranks {b2[2]:.4f} (epoch {b2[0]})")
    for name, log in (("1 rank", l1), ("2 ranks (mpirun and both ranks)", l2)):
        c = cpu_line(log)
        if c:
            print(f"cpu {name}: user {c[0]:.1f} s, sys {c[1]:.1f} s, wall {c[2]:.1f} s")
    steps = -(-a.users // a.batch)
    tr1 = sum(r[3] for r in e1) / len(e1)          # 1-rank train seconds per epoch (wall)
    va1 = sum(r[4] for r in e1) / len(e1)          # validation seconds per epoch (wall)
    c1 = cpu_line(l1)
    if c1:  # on a loaded machine wall time is not the machine's speed: CPU seconds / 2 cores, split as the wall was
        per = c1[0] / len(e1) / 2.0
        fv = va1 / (tr1 + va1)
        print(f"(projection inputs from CPU time: {c1[0]:.1f} CPU s / {len(e1)} epochs / 2 cores = {per:.2f} s per "
              f"epoch on two idle cores, {fv:.0%} of it validation as in the wall times)")
        tr1, va1 = per * (1 - fv), per * fv
    mb = sum(d[1] for d in d2) / len(d2) if d2 else float("nan")
    B = mb * 1e6
    print(f"\nmeasured: {tr1:.2f} s training + {va1:.2f} s validation per epoch on 1 process, {steps} steps per "
          f"epoch -> {tr1 / steps * 1e3:.1f} ms compute per step; {mb:.3f} MB allreduced per step "
          f"(payload of one rank, the whole gradient block: the full-softmax loss touches every item row)")

    i1, i2 = read(a.ials1), read(a.ials2)
    it2 = ials_iters(i2)
    t1 = train_seconds(i1)
    print("\n## Beauty, ials: 1 process (2 threads) vs 2 ranks (1 thread each)")
    print(f"1 rank: {t1:.2f} s for {a.ials_iters} iterations (includes data building and the fold-in preparation)")
    if it2:
        print("| iteration | s, 2 ranks | MB exchanged by a rank | s in collectives |")
        print("|---|---|---|---|")
        for r in it2:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
        print(f"2 ranks: {train_seconds(i2):.2f} s in all")

    print("\n## Projection (network model: ring allreduce / allgather, 20 us per message step; a machine = this one)")
    rows = []
    # sasrec on Beauty: per epoch = compute / P + validation (rank 0) + steps x allreduce(B)
    T1 = tr1 + va1
    for bw in BWS:
        rows.append(("Beauty sasrec", bw, [T1 / (tr1 / p + va1 + steps * ring_allreduce(B, p, bw)) for p in PS],
                     f"{tr1:.1f} s + {va1:.1f} s valid / epoch, {mb:.2f} MB x {steps} steps"))
    # ials on Beauty: per iteration = compute / P + allgather of (U + I) rows + 2 Gram sums
    ld = a.ials_ld
    iter1 = t1 / a.ials_iters
    ci = cpu_line(i1)
    if ci:
        iter1 = ci[0] / a.ials_iters / 2.0
        print(f"(ials projection input: {ci[0]:.1f} CPU s / {a.ials_iters} iterations / 2 cores = {iter1:.2f} s per "
              f"iteration, data building included)")
    Bg = (a.users + a.items) * ld * 4
    for bw in BWS:
        rows.append(("Beauty ials", bw, [iter1 / (iter1 / p + ring_allgather(Bg, p, bw) +
                                                  2 * ring_allreduce(ld * ld * 4, p, bw)) for p in PS],
                     f"{iter1:.2f} s / iteration, {Bg / 1e6:.1f} MB gathered"))
    if a.ml20m_cpu:
        U, I = 138493, 26744
        c = a.ml20m_cpu / a.ml20m_scale / 2.0   # CPU s -> wall on two idle cores, scaled to the full shape
        Bg = (U + I) * ld * 4
        for bw in BWS:
            rows.append(("ML-20M shape ials", bw, [c / (c / p + ring_allgather(Bg, p, bw) +
                                                        2 * ring_allreduce(ld * ld * 4, p, bw)) for p in PS],
                         f"{c:.1f} s / iteration (CPU {a.ml20m_cpu:.1f} s at scale {a.ml20m_scale} / 2 cores), "
                         f"{Bg / 1e6:.1f} MB gathered"))
        # sasrec on the ML-20M shape: the Beauty step scaled by rows and catalog (a rougher estimate)
    print("| workload | link | " + " | ".join(f"x{p}" for p in PS) + " | from |")
    print("|---|---|" + "---|" * len(PS) + "---|")
    for name, bw, sp, note in rows:
        print(f"| {name} | {bw * 8 / 1e9:.0f} Gbit/s | " + " | ".join(f"{s:.1f}" for s in sp) + f" | {note} |")
    print("(speed-up over one machine; ideal = P)")


if __name__ == "__main__":
    main()
