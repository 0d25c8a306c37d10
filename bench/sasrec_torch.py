#!/usr/bin/python3
"""sasrec_torch.py: a plain PyTorch SASRec, the reference that bench/sasrec_vs_torch.sh times crec against.

Written for this project from the SASRec paper (Kang & McAuley 2018), in the way the widely used PyTorch ports
train it: every user's training sequence is one left-padded window of max_len items, the model computes on every
position (padding included, as those ports do), and the loss is either BCE with one uniformly sampled negative per
position (the original configuration: width 50, 2 blocks, 1 head, max_len 50, batch 128) or full softmax
cross-entropy over the catalog. Pre-LN blocks, GELU feed-forward, learned positions, final layer norm.

Protocol as crec's `loo` split on a sequences file (one line per user: user item item ..., oldest first): the last
item is the test target, the one before it the validation target, the rest is training; only the training part is
trained on. With --eval the script ranks the whole catalog for every user (history excluded, pessimistic ties) and
prints validation and test HR@10 / NDCG@10.

usage: sasrec_torch.py --data Beauty.txt [--epochs 3] [--threads 2] [--loss bce|ce] [--dim 50] [--batch 128]
                       [--lr 0.001] [--dropout 0.2] [--eval] [--seed 42]
"""
import argparse
import math
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    users = []
    ids = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            seq = [ids.setdefault(t, len(ids) + 1) for t in parts[1:]]  # 0 = padding
            users.append(seq)
    return users, len(ids)


class Block(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, dropout=p, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(p), nn.Linear(d, d), nn.Dropout(p))
        self.drop = nn.Dropout(p)

    def forward(self, x, causal, keep):
        h = self.ln1(x)
        a, _ = self.att(h, h, h, attn_mask=causal, need_weights=False)
        x = x + self.drop(a)
        return (x + self.ff(self.ln2(x))) * keep


class SASRec(nn.Module):
    def __init__(self, n_items, d, blocks, heads, max_len, p):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        self.drop = nn.Dropout(p)
        self.blocks = nn.ModuleList([Block(d, heads, p) for _ in range(blocks)])
        self.ln = nn.LayerNorm(d)
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1))
        self.d = d
        for n, w in self.named_parameters():  # as the common ports: Xavier normal on every matrix
            if w.dim() > 1:
                nn.init.xavier_normal_(w)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq):  # seq [B, T], 0 = padding on the left
        T = seq.shape[1]
        x = self.item(seq) * math.sqrt(self.d) + self.pos.weight[:T]
        keep = (seq > 0).unsqueeze(-1).float()
        x = self.drop(x) * keep
        # as in the common ports: a causal mask only, padded positions zeroed after every block (a key-padding mask
        # would give rows with no visible key, NaN through softmax)
        for b in self.blocks:
            x = b(x, self.causal[:T, :T], keep)
        return self.ln(x)  # [B, T, d]


def windows(users, max_len, part):
    """part 'train': inputs/targets from the training items; 'valid'/'test': the history before the target."""
    rows, tgts = [], []
    for s in users:
        tr = s[:-2]
        if part == "train":
            if len(tr) < 2:
                continue
            inp, tgt = tr[:-1][-max_len:], tr[1:][-max_len:]
            rows.append([0] * (max_len - len(inp)) + inp)
            tgts.append([0] * (max_len - len(tgt)) + tgt)
        else:
            hist = tr if part == "valid" else s[:-1]
            hist = hist[-max_len:]
            rows.append([0] * (max_len - len(hist)) + hist)
            tgts.append(s[-2] if part == "valid" else s[-1])
    return torch.tensor(rows), torch.tensor(tgts)


def evaluate(model, users, n_items, max_len, part, bs=512):
    model.eval()
    seq, tgt = windows(users, max_len, part)
    hr = ndcg = 0.0
    with torch.no_grad():
        W = model.item.weight
        for b in range(0, len(users), bs):
            h = model(seq[b:b + bs])[:, -1]
            sc = h @ W.T
            t = tgt[b:b + bs]
            ts = sc.gather(1, t.unsqueeze(1))
            rows, cols = [], []
            for r, u in enumerate(range(b, min(b + bs, len(users)))):
                hist = users[u][:-2] if part == "valid" else users[u][:-1]
                rows += [r] * len(hist)
                cols += hist
            sc[torch.tensor(rows, dtype=torch.long), torch.tensor(cols, dtype=torch.long)] = -float("inf")
            sc[:, 0] = -float("inf")
            sc.scatter_(1, t.unsqueeze(1), ts)
            rank = (sc >= ts).sum(1) - 1  # pessimistic ties
            hit = rank < 10
            hr += hit.sum().item()
            ndcg += (1 / torch.log2(rank[hit].double() + 2)).sum().item()
    model.train()
    return hr / len(users), ndcg / len(users)


def blas():
    """Debian's torch calls the system libblas.so.3: name the library its alternative points at."""
    import glob
    import os
    for p in glob.glob("/etc/alternatives/libblas.so.3*"):
        return os.path.realpath(p)
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loss", choices=["bce", "ce"], default="bce")
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    users, n_items = load(a.data)
    seq, tgt = windows(users, a.max_len, "train")
    n_pos = int((tgt > 0).sum())
    model = SASRec(n_items, a.dim, a.blocks, a.heads, a.max_len, a.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.98))
    print(f"sasrec_torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"blas: {blas()}; {len(users)} users, "
          f"{n_items} items, {len(seq)} training windows, {n_pos} positions per epoch")
    print(f"config: dim={a.dim} blocks={a.blocks} heads={a.heads} max_len={a.max_len} batch={a.batch} "
          f"loss={a.loss} dropout={a.dropout} lr={a.lr}")
    times = []
    for ep in range(a.epochs):
        t0 = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(len(seq)))
        total = 0.0
        for b in range(0, len(seq), a.batch):
            idx = perm[b:b + a.batch]
            s, t = seq[idx], tgt[idx]
            h = model(s)
            m = t > 0
            if a.loss == "bce":
                neg = torch.from_numpy(rng.integers(1, n_items + 1, size=tuple(t.shape)))
                pl = (h * model.item(t)).sum(-1)
                nl = (h * model.item(neg)).sum(-1)
                loss = (F.binary_cross_entropy_with_logits(pl[m], torch.ones_like(pl[m]), reduction="sum") +
                        F.binary_cross_entropy_with_logits(nl[m], torch.zeros_like(nl[m]), reduction="sum")) / m.sum()
            else:
                logits = h[m] @ model.item.weight.T
                logits[:, 0] = -float("inf")
                loss = F.cross_entropy(logits, t[m])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        times.append(time.perf_counter() - t0)
        line = f"epoch {ep + 1}: {times[-1]:.2f} s, loss {total / math.ceil(len(seq) / a.batch):.4f}"
        if a.eval:
            vh, vn = evaluate(model, users, n_items, a.max_len, "valid")
            th, tn = evaluate(model, users, n_items, a.max_len, "test")
            line += f", valid HR@10 {vh:.4f} NDCG@10 {vn:.4f}, test HR@10 {th:.4f} NDCG@10 {tn:.4f}"
        print(line, flush=True)
    med = sorted(times)[len(times) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"epoch: {med:.2f} s median of {len(times)} ({n_pos / med:.0f} positions/s); peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
