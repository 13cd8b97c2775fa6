"""Recorded (demonstrate + from-mcap) vs collected keyframes for the same scenes -> results/data_loop/keyframes_vs_collect.json"""
import json, sys
from pathlib import Path
import numpy as np
demos = json.load(open('/work/main/results/data_loop/demonstrations.json'))['demonstrations']
rows = []
for d in demos:
    name = Path(d['file']).name.split('.')[0]
    rec = json.load(open(f'/work/data/demos_ds/{name}/meta.json'))
    col = json.load(open(f"/work/data/demos_collect/{d['task']}_{d['split']}_{d['seed']:06d}/meta.json"))
    a, b = rec['expert_keyframes'], col['expert_keyframes']
    row = {'task': d['task'], 'seed': d['seed'], 'recorded_keyframes': len(a), 'collected_keyframes': len(b),
           'gripper_states_equal': [k['gripper_open'] for k in a] == [k['gripper_open'] for k in b],
           'path_answer_equal': rec['path']['answer'] == col['path']['answer'],
           'path_points': [len(rec['path']['points']), len(col['path']['points'])]}
    if len(a) == len(b):
        row['position_error_mm_max'] = max(1000 * float(np.linalg.norm(np.subtract(x['tcp_pose'][:3], y['tcp_pose'][:3]))) for x, y in zip(a, b))
    rows.append(row)
same = [r for r in rows if r['recorded_keyframes'] == r['collected_keyframes']]
out = {'episodes': rows, 'same_keyframe_count': len(same), 'of': len(rows),
       'gripper_states_equal': sum(r['gripper_states_equal'] for r in rows),
       'path_answer_equal': sum(r['path_answer_equal'] for r in rows),
       'position_error_mm_max_over_matching': max((r['position_error_mm_max'] for r in same), default=None),
       'command': 'python results/data_loop/compare_keyframes.py (the comparison of vla-ros demonstrate + dataset from-mcap against vla-ros collect, seeds 70000-70001)'}
json.dump(out, open('/work/main/results/data_loop/keyframes_vs_collect.json', 'w'), indent=2)
print(json.dumps({k: v for k, v in out.items() if k != 'episodes'}))
