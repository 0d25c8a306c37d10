#!/usr/bin/env bash
# toolrec.sh: the ToolRec experiment with a scripted agent over crec's MCP tools (docs/MCP.md) on Amazon Beauty
# (leave-one-out: the last item of each sequence is the target; the model trains on the loo split's training
# part of the full data and sees train + valid as the user's history in the store) and LastFM* (the given
# train / valid / test split of SCPR/UNICORN: the store and the model hold train + valid; the targets are the
# test pairs). Usage: bench/toolrec.sh CREC OUT_DIR [N_PAIRS] [MODEL]   (needs $CREC_SHARED_DATA or ../shared/data)
set -eu
CREC=$(realpath "${1:?usage: toolrec.sh CREC OUT_DIR [N_PAIRS] [MODEL]}")
OUT=$(mkdir -p "$2" && realpath "$2")
N=${3:-300}
MODEL=${4:-itemknn}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${CREC_SHARED_DATA:-$HERE/../../shared/data}
export CREC_NO_PROGRESS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for d in amazon-beauty lastfm-star-crs; do [ -d "$DATA/$d" ] || { echo "toolrec.sh: $DATA/$d not found"; exit 77; }; done

# Beauty: full data for the model (loo), the store without each user's last item
B="$OUT/beauty"
python3 "$HERE/toolrec_prep.py" beauty "$DATA/amazon-beauty" "$B"
"$CREC" data import --format sequences --input "$B/full.txt" --items "$B/attrs.tsv" --out "$B/full.crecds" >/dev/null 2>&1
"$CREC" data import --format sequences --input "$B/hold.txt" --items "$B/attrs.tsv" --out "$B/hold.crecds" >/dev/null 2>&1
[ -f "$B/store.db" ] || "$CREC" db import --db "$B/store.db" --data "$B/hold.crecds" >/dev/null
[ -f "$B/$MODEL.crecm" ] || "$CREC" train --data "$B/full.crecds" --model "$MODEL" --split loo --out "$B/$MODEL.crecm" >/dev/null
python3 "$HERE/toolrec_agent.py" --crec "$CREC" --db "$B/store.db" --model "$B/$MODEL.crecm" --data "$B/full.crecds" \
  --pairs "$B/test.tsv" --attrs "$B/attrs.tsv" --hold "$B/hold.txt" --n "$N" --label "Amazon Beauty, $MODEL" \
  --json "$B/toolrec_$MODEL.json"

# LastFM*: train + valid pairs are the store and the model's data; test pairs are the targets
L="$OUT/lastfm"
python3 "$HERE/toolrec_prep.py" lastfm "$DATA/lastfm-star-crs" "$L"
"$CREC" data import --format pairs --input "$L/hold.txt" --items "$L/attrs.tsv" --out "$L/hold.crecds" >/dev/null 2>&1
[ -f "$L/store.db" ] || "$CREC" db import --db "$L/store.db" --data "$L/hold.crecds" >/dev/null
[ -f "$L/$MODEL.crecm" ] || "$CREC" train --data "$L/hold.crecds" --model "$MODEL" --split loo --out "$L/$MODEL.crecm" >/dev/null
python3 "$HERE/toolrec_agent.py" --crec "$CREC" --db "$L/store.db" --model "$L/$MODEL.crecm" --data "$L/hold.crecds" \
  --pairs "$L/test.tsv" --attrs "$L/attrs.tsv" --hold "$L/hold.txt" --n "$N" --label "LastFM*, $MODEL" \
  --json "$L/toolrec_$MODEL.json"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
