#!/usr/bin/python3
"""hstu_torch.py: a plain PyTorch HSTU, the reference that bench/hstu_vs_torch.sh times crec's hstu against.

Written for this project from the HSTU paper ("Actions Speak Louder than Words", Zhai et al. 2024) and the layer as
its authors' reference implementation defines it, on dense left-padded windows (the reference runs jagged tensors
with Triton kernels on GPUs; on CPUs a padded batch is what PyTorch offers):
  x = dropout(E[item] * sqrt(D) + P[position]), padding zeroed;
  per layer: x~ = LayerNorm(x) without affine; U|V|Q|K = SiLU(x~ W_uvqk) (no bias);
  A = SiLU(Q K^T + rab_pos + rab_time) / n per head, the causal mask after the SiLU, no softmax; n = the row's true
  length (crec's norm=len default) or max_len (--norm max_len, the reference's padded length);
  rab_pos: a learned weight per relative position (2 max_len - 1), rab_time: per log-time bucket
  clamp(floor(ln(max(|t_{i+1} - t_j|, 1)) / 0.301), 0, 128), both per layer and shared by the heads;
  x = x + W_o dropout(U * LayerNorm(A V)) + b_o (LayerNorm over the heads' concatenated values, no affine).
Output: the final state and the item table L2-normalised, cosine / 0.05; loss: sampled softmax at every position
with --neg uniform negatives shared by the batch (the target's own logit and the negatives'); AdamW (0.9, 0.98).

Data: a MovieLens ratings file (user::item::rating::time, e.g. ml-1m/ratings.users-0001-2999.dat) whose events
are put in time order per user, or a sequences file (user item item ..., oldest first; times = positions).
Protocol as crec's `loo`: last item test, the one before validation, the rest training.

usage: hstu_torch.py --data F [--epochs 2] [--threads 2] [--dim 50] [--blocks 2] [--heads 1] [--max-len 200]
                     [--batch 128] [--neg 128] [--lr 0.005] [--dropout 0.2] [--norm len|max_len] [--eval]
"""
import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    """-> list of (items, times) per user, time ordered; item ids from 1 (0 = padding); number of items."""
    ids, per = {}, {}
    with open(path, encoding="latin-1") as f:
        for n, line in enumerate(f):
            if "::" in line:
                u, i, _, t = line.strip().split("::")[:4]
                per.setdefault(u, []).append((int(t), n, ids.setdefault(i, len(ids) + 1)))
            else:
                parts = line.split()
                if len(parts) < 2:
                    continue
                per[parts[0]] = [(k, k, ids.setdefault(i, len(ids) + 1)) for k, i in enumerate(parts[1:])]
    users = []
    for ev in per.values():
        ev.sort()
        users.append(([e[2] for e in ev], [e[0] for e in ev]))
    return users, len(ids)


def buckets(dt):
    return torch.clamp(torch.floor(torch.log(torch.clamp(dt.abs().double(), min=1)) / 0.301), 0, 128).long()


class HSTULayer(nn.Module):
    def __init__(self, d, heads, max_len, p, norm):
        super().__init__()
        self.d, self.h, self.p, self.norm = d, heads, p, norm
        self.uvqk = nn.Linear(d, 4 * d, bias=False)
        self.o = nn.Linear(d, d)
        self.rab_pos = nn.Parameter(torch.zeros(2 * max_len - 1))
        self.rab_time = nn.Parameter(torch.zeros(129))
        self.drop = nn.Dropout(p)

    def forward(self, x, relpos, tb, mask, n):  # x [B,T,D]; relpos/tb [B?,T,T] indices; mask [B,T,T]; n [B,1,1]
        B, T, D = x.shape
        H, dh = self.h, D // self.h
        u, v, q, k = F.silu(self.uvqk(F.layer_norm(x, (D,)))).split(D, dim=-1)
        q = q.view(B, T, H, dh).transpose(1, 2)
        k = k.view(B, T, H, dh).transpose(1, 2)
        v = v.view(B, T, H, dh).transpose(1, 2)
        bias = self.rab_pos[relpos] + self.rab_time[tb]  # [B,T,T]
        a = F.silu(q @ k.transpose(-1, -2) + bias.unsqueeze(1)) * mask.unsqueeze(1) / n.unsqueeze(1)
        av = (a @ v).transpose(1, 2).reshape(B, T, D)
        return x + self.o(self.drop(u * F.layer_norm(av, (D,))))


class HSTU(nn.Module):
    def __init__(self, n_items, d, blocks, heads, max_len, p, norm):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos = nn.Embedding(max_len, d)
        self.drop = nn.Dropout(p)
        self.layers = nn.ModuleList([HSTULayer(d, heads, max_len, p, norm) for _ in range(blocks)])
        self.d, self.T, self.norm = d, max_len, norm
        nn.init.normal_(self.item.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[0].zero_()
        ar = torch.arange(max_len)
        self.register_buffer("relpos", (ar.view(1, -1) - ar.view(-1, 1)) + max_len - 1)  # key - query
        self.register_buffer("causal", torch.tril(torch.ones(max_len, max_len)))

    def forward(self, seq, nxt_t, ts):  # seq/ts [B,T] left padded; nxt_t [B,T] time of the event after each row
        B, T = seq.shape
        keep = (seq > 0).float()
        x = self.drop(self.item(seq) * math.sqrt(self.d) + self.pos.weight[:T]) * keep.unsqueeze(-1)
        tb = buckets(nxt_t.unsqueeze(2) - ts.unsqueeze(1))
        mask = self.causal[:T, :T] * keep.unsqueeze(1) * keep.unsqueeze(2)
        lens = keep.sum(1).clamp(min=1).view(B, 1, 1)
        n = lens if self.norm == "len" else torch.full_like(lens, float(self.T))
        for layer in self.layers:
            x = layer(x, self.relpos[:T, :T], tb, mask, n) * keep.unsqueeze(-1)
        return F.normalize(x, dim=-1)


def train_windows(users, max_len):
    seq, tgt, ts, nt = [], [], [], []
    for items, times in users:
        tr, tt = items[:-2], times[:-2]
        if len(tr) < 2:
            continue
        inp, tgt_ = tr[:-1][-max_len:], tr[1:][-max_len:]
        ti, tn = tt[:-1][-max_len:], tt[1:][-max_len:]
        pad = max_len - len(inp)
        seq.append([0] * pad + inp), tgt.append([0] * pad + tgt_)
        ts.append([0] * pad + ti), nt.append([0] * pad + tn)
    return torch.tensor(seq), torch.tensor(tgt), torch.tensor(ts), torch.tensor(nt)


def evaluate(model, users, n_items, max_len, part, bs=256):
    model.eval()
    hr = ndcg = 0.0
    with torch.no_grad():
        W = F.normalize(model.item.weight, dim=-1)
        for b in range(0, len(users), bs):
            rows, tss, nts, tg, hists = [], [], [], [], []
            for items, times in users[b:b + bs]:
                k = len(items) - (2 if part == "valid" else 1)
                h, ht = items[:k][-max_len:], times[:k][-max_len:]
                pad = max_len - len(h)
                rows.append([0] * pad + h), tss.append([0] * pad + ht)
                nts.append([0] * pad + ht[1:] + [ht[-1]])  # the last row's next time is unknown: its own time
                tg.append(items[k]), hists.append(items[:k])
            h = model(torch.tensor(rows), torch.tensor(nts), torch.tensor(tss))[:, -1]
            sc = h @ W.T
            t = torch.tensor(tg)
            tsc = sc.gather(1, t.unsqueeze(1))
            for r, hist in enumerate(hists):
                sc[r, hist] = -float("inf")
            sc[:, 0] = -float("inf")
            sc.scatter_(1, t.unsqueeze(1), tsc)
            rank = (sc >= tsc).sum(1) - 1
            hit = rank < 10
            hr += hit.sum().item()
            ndcg += (1 / torch.log2(rank[hit].double() + 2)).sum().item()
    model.train()
    return hr / len(users), ndcg / len(users)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--neg", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--norm", choices=["len", "max_len"], default="len")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    users, n_items = load(a.data)
    seq, tgt, ts, nt = train_windows(users, a.max_len)
    n_pos = int((tgt > 0).sum())
    model = HSTU(n_items, a.dim, a.blocks, a.heads, a.max_len, a.dropout, a.norm)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.0)
    print(f"hstu_torch: torch {torch.__version__}, {torch.get_num_threads()} threads; {len(users)} users, "
          f"{n_items} items, {len(seq)} training windows, {n_pos} positions per epoch")
    print(f"config: dim={a.dim} blocks={a.blocks} heads={a.heads} max_len={a.max_len} batch={a.batch} "
          f"neg={a.neg} dropout={a.dropout} lr={a.lr} norm={a.norm}")
    for ep in range(a.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.from_numpy(rng.permutation(len(seq)))
        total, nb = 0.0, 0
        for b in range(0, len(seq), a.batch):
            idx = perm[b:b + a.batch]
            s, t = seq[idx], tgt[idx]
            h = model(s, nt[idx], ts[idx])
            m = t > 0
            hm, tm = h[m], t[m]
            W = F.normalize(model.item.weight, dim=-1)
            neg = torch.from_numpy(rng.integers(1, n_items + 1, size=a.neg))
            pos_l = (hm * W[tm]).sum(-1, keepdim=True) / 0.05
            neg_l = hm @ W[neg].T / 0.05
            neg_l = neg_l.masked_fill(neg.view(1, -1) == tm.view(-1, 1), -float("inf"))  # a negative equal to the target
            loss = -F.log_softmax(torch.cat([pos_l, neg_l], 1), 1)[:, 0].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            nb += 1
        line = (f"epoch {ep + 1}: {time.perf_counter() - t0:.2f} s wall, {time.process_time() - c0:.2f} s CPU, "
                f"loss {total / max(nb, 1):.4f}")
        if a.eval:
            vh, vn = evaluate(model, users, n_items, a.max_len, "valid")
            th, tn = evaluate(model, users, n_items, a.max_len, "test")
            line += f", valid HR@10 {vh:.4f} NDCG@10 {vn:.4f}, test HR@10 {th:.4f} NDCG@10 {tn:.4f}"
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
