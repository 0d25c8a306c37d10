#!/usr/bin/env python3
"""toolrec_prep.py: the inputs of the ToolRec experiment (bench/toolrec.sh) from the shared data, in plain files
crec imports. Usage: toolrec_prep.py beauty|lastfm SHARED_DATA OUT_DIR

beauty (amazon-beauty, S3-Rec 5-core sequences): full.txt (every sequence), hold.txt (each sequence without its
  last item: what the store holds at test time), attrs.tsv (item <TAB> attribute names; spaces in a name become
  '_', since the TSV attribute list is space-separated), test.tsv (user <TAB> last item: the leave-one-out test
  pairs).
lastfm (LastFM* of SCPR/UNICORN, the given split): hold.txt ('user item' pairs of the train and valid splits),
  attrs.tsv (item <TAB> tag:ID ...; the tags have no names in this copy), test.tsv (the test split's pairs)."""
import json
import os
import sys


def beauty(src, out):
    names = {}
    with open(os.path.join(src, "Beauty_attributes.tsv")) as f:
        next(f)
        for line in f:
            a = line.rstrip("\n").split("\t")
            names[a[0]] = a[2].strip().replace(" ", "_")
    with open(os.path.join(src, "Beauty_items.tsv")) as f, open(os.path.join(out, "attrs.tsv"), "w") as g:
        next(f)
        for line in f:
            item, _asin, ids = line.rstrip("\n").split("\t")
            attrs = sorted({names[i] for i in ids.split() if i in names})
            if attrs:
                g.write("%s\t%s\n" % (item, " ".join(attrs)))
    with open(os.path.join(src, "Beauty.txt")) as f, open(os.path.join(out, "full.txt"), "w") as full, \
            open(os.path.join(out, "hold.txt"), "w") as hold, open(os.path.join(out, "test.tsv"), "w") as test:
        for line in f:
            t = line.split()
            if len(t) < 3:
                continue
            full.write(" ".join(t) + "\n")
            hold.write(" ".join(t[:-1]) + "\n")
            test.write("%s\t%s\n" % (t[0], t[-1]))


def lastfm(src, out):
    with open(os.path.join(src, "interactions.tsv")) as f, open(os.path.join(out, "hold.txt"), "w") as hold, \
            open(os.path.join(out, "test.tsv"), "w") as test:
        next(f)
        for line in f:
            split, user, item = line.rstrip("\n").split("\t")
            (test if split == "test" else hold).write(("%s\t%s\n" if split == "test" else "%s %s\n") % (user, item))
    feats = {}
    with open(os.path.join(src, "item_feature.tsv")) as f:
        next(f)
        for line in f:
            item, fea = line.rstrip("\n").split("\t")
            feats.setdefault(item, []).append("tag:" + fea)
    with open(os.path.join(out, "attrs.tsv"), "w") as g:
        for item in sorted(feats, key=int):
            g.write("%s\t%s\n" % (item, " ".join(sorted(set(feats[item])))))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("beauty", "lastfm"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[3], exist_ok=True)
    (beauty if sys.argv[1] == "beauty" else lastfm)(sys.argv[2], sys.argv[3])
