# The data loop's experiment (issue 18): 60 demonstrations a task recorded through the graph, converted,
# a policy trained only on them, evaluated lock-step against the shipped policy (the same recipe on 60
# directly collected demonstrations a task: models/policy/README.md).
set -x
cd /work/main
source scripts/env.sh
export ROS_DOMAIN_ID=44
T="pick_place_bowl stack_blocks push_to_target press_button lift_block"
vla-ros demonstrate --task $T --episodes 60 --seed 0 --record /work/data/demos real_time_factor:=1.0
cp /work/data/demos/demonstrations.json results/data_loop/experiment_demonstrations.json
# camera gaps up to 1 s allowed: keyframes come from the joint-state stream (0 lost)
/usr/bin/time -v vla-ros dataset from-mcap /work/data/demos/*.mcap --out /work/data/rec_train --max-gap 1.0 \
  > results/data_loop/experiment_from_mcap.txt 2>&1
vla-ros collect --task $T --episodes 60 --frames keyframes --split train --seed 0 --out /work/data/kf2_train
vla-ros collect --task $T --episodes 10 --frames keyframes --split train --seed 100000 --out /work/data/kf2_val
python results/data_loop/compare_keyframes.py /work/data/demos /work/data/rec_train /work/data/kf2_train \
  results/data_loop/keyframes_vs_collect.json
vla-ros policy-paths --data /work/data/rec_train
# training: the shipped recipe (config/policy.yaml), on the device machine's GPU this time
vla-ros train-policy --data /work/data/rec_train --val-data /work/data/kf2_val --out /work/data/rec_policy/policy.pt --device cuda
vla-ros policy-eval --checkpoint /work/data/rec_policy/policy.pt --split train --episodes 25 --out results/data_loop/eval_recorded_train.json
vla-ros policy-eval --checkpoint /work/data/rec_policy/policy.pt --split heldout --episodes 25 --out results/data_loop/eval_recorded_heldout.json
