#!/usr/bin/env bash
# Device-only: train the policy on the recorded dataset with the shipped recipe (seeds 0 and 1) and a
# longer variant (12,000 steps of batch 16), side by side on the GPU.
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/.devdata/shim:$PWD/.devdata/site:$PWD
nvidia-smi -L; python3 -c "import torch; print(torch.__version__, torch.cuda.is_available())"
mkdir -p $OUT/rec $OUT/long $OUT/seed1
T() { timeout "$1" python3 .devdata/train_gpu.py train-policy --data .devdata/rec_train --val-data .devdata/kf2_val --device cuda --threads 4 --out "$2" "${@:3}"; }
T 480 $OUT/rec/policy.pt > /tmp/rec.log 2>&1 &
T 480 $OUT/seed1/policy.pt --config $PWD/.devdata/seed1.yaml > /tmp/seed1.log 2>&1 &
T 480 $OUT/long/policy.pt --config $PWD/.devdata/long.yaml > /tmp/long.log 2>&1 &
wait
rm -f $OUT/*/policy.resume.pt
for f in rec seed1 long; do echo "== $f"; tr "\r" "\n" < /tmp/$f.log | grep -v "%|" | tail -40; tr "\r" "\n" < /tmp/$f.log | grep "train policy" | tail -1; done > $OUT/train.log
tail -c 3000 $OUT/train.log
