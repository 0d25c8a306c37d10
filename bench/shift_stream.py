#!/usr/bin/env python3
# shift_stream.py: the synthetic stream of the ReLoop2 experiment in docs/RESULTS.md (issue 13). Usage: shift_stream.py SEED OUT.csv
# A stream whose tastes change at the middle: 1000 users, 500 items in 20 topics of 25; each user draws 80% of its
# events from its topic (A before the middle, B != A after), 20% by global popularity (Zipf over items).
import random, sys
seed = int(sys.argv[1]); out = sys.argv[2]
r = random.Random(seed)
U, I, T, N = 1000, 500, 20, 60000
A = [r.randrange(T) for _ in range(U)]
B = [(a + 1 + r.randrange(T - 1)) % T for a in A]
zipf = [1.0 / (k + 1) for k in range(25)]
pop = [1.0 / (k + 1) for k in range(I)]
perm = list(range(I)); r.shuffle(perm)
with open(out, "w") as f:
    f.write("user,item,ts\n")
    for t in range(N):
        u = r.randrange(U)
        if r.random() < 0.8:
            topic = A[u] if t < N // 2 else B[u]
            i = topic * 25 + r.choices(range(25), weights=zipf)[0]
        else:
            i = perm[r.choices(range(I), weights=pop)[0]]
        f.write("u%d,i%d,%d\n" % (u, i, t))
