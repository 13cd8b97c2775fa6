"""The keyframe policy's trainer, its dataset and the lock-step closed-loop evaluation in the
simulator."""
