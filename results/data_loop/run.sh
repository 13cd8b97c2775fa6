set -x
cd /work/main
source scripts/env.sh
export ROS_DOMAIN_ID=48
rm -rf /work/data/demos /work/data/demos_ds /work/data/demos_collect
T="pick_place_bowl stack_blocks push_to_target press_button lift_block"
vla-ros demonstrate --task $T --episodes 2 --seed 70000 --record /work/data/demos real_time_factor:=0.5
cp /work/data/demos/demonstrations.json results/data_loop/demonstrations.json
vla-ros dataset from-mcap /work/data/demos/*.mcap --out /work/data/demos_ds > results/data_loop/from_mcap.txt 2>&1
cp /work/data/demos_ds/dataset.json results/data_loop/demos_dataset.json
vla-ros collect --task $T --episodes 2 --seed 70000 --frames keyframes --out /work/data/demos_collect
vla-ros replay /work/data/demos/*.mcap --out results/data_loop/replay.json
