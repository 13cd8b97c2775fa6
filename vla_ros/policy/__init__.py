"""The RVT-style keyframe policy: point cloud, virtual views, multi-view transformer, heatmap lifting."""
