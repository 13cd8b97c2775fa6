"""Recorded demonstrations, independent of where they come from: the episode format and its reader,
camera model, geometry, keyframe discovery and the planner's path labels."""
