"""The two stages: the fine cube's coordinates, what the fine stage sees, and the rotation head's
conditioning (ROS-free, small random networks)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vla_ros.policy.model import KeyframeNetwork, point_features
from vla_ros.policy.pointcloud import FEATURE_CHANNELS
from vla_ros.policy.stages import from_fine, run_stages, to_fine


@pytest.fixture(scope="module")
def network(small_config) -> KeyframeNetwork:
    torch.manual_seed(0)
    return KeyframeNetwork(small_config.model, FEATURE_CHANNELS).eval()


def _inputs(batch: int, points: int = 500) -> tuple[list, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    clouds = [
        (
            torch.rand(points, 3, generator=generator) * 2 - 1,
            torch.rand(points, FEATURE_CHANNELS, generator=generator),
        )
        for _ in range(batch)
    ]
    return clouds, torch.rand(batch, 384, generator=generator), torch.rand(batch, 2, generator=generator)


def test_fine_coordinates_round_trip_and_zoom() -> None:
    centres = torch.tensor([[0.2, -0.1, 0.3], [0.0, 0.0, 0.0]])
    points = torch.tensor([[0.25, -0.1, 0.3], [0.1, 0.2, -0.3]])
    fine = to_fine(points, centres, 4.0)
    assert torch.allclose(fine[0], torch.tensor([0.2, 0.0, 0.0]))  # 0.05 from the centre, zoomed x4
    assert torch.allclose(from_fine(fine, centres, 4.0), points)
    clouds = torch.rand(2, 10, 3)
    assert torch.allclose(to_fine(clouds, centres, 4.0)[1], clouds[1] * 4.0)


def test_the_fine_stage_sees_only_the_cube_around_its_centre(network, small_config) -> None:
    clouds, language, proprio = _inputs(1)
    near = torch.tensor([[0.5, 0.5, 0.5]])
    far = torch.tensor([[-0.5, -0.5, -0.5]])
    points = torch.cat([clouds[0][0], near, far])
    features = torch.cat([clouds[0][1], torch.ones(2, FEATURE_CHANNELS)])
    centre = torch.tensor([[0.5, 0.5, 0.5]])
    output = run_stages(
        network, [(points, features)], language, proprio, small_config.lifting, centre, torch.zeros(1, 3)
    )
    occupancy = output.fine_views[0, :, FEATURE_CHANNELS + 4]  # (V, S, S) the occupancy channel
    inside = (((points - centre) * small_config.model.fine_zoom).abs() <= 1).all(dim=1).sum()
    assert 0 < occupancy.sum(dim=(1, 2)).max() <= inside
    assert torch.all(output.fine_centres == centre)


def test_inference_lifts_both_stages_and_conditions_rotation_on_its_own_bins(network, small_config) -> None:
    clouds, language, proprio = _inputs(2)
    with torch.no_grad():
        output = run_stages(network, clouds, language, proprio, small_config.lifting)
    assert output.fine_centres.shape == (2, 3) and output.fine_centres.abs().max() <= 1
    assert output.fine_points.abs().max() <= 1 and torch.all(output.fine_scores < 0)
    bins = small_config.model.rotation_bins
    assert output.heads.rotation_logits.shape == (2, 3, bins)
    # greedy decoding is teacher forcing with the greedy choices
    chosen = output.heads.rotation_logits.argmax(dim=-1)
    with torch.no_grad():
        forced = network.heads(output.fine, output.fine_points, proprio, chosen)
    assert torch.allclose(forced.rotation_logits, output.heads.rotation_logits, atol=1e-5)


def test_later_rotation_axes_depend_on_the_earlier_bins(network, small_config) -> None:
    clouds, language, proprio = _inputs(1)
    with torch.no_grad():
        output = run_stages(network, clouds, language, proprio, small_config.lifting)
        first = network.heads(output.fine, output.fine_points, proprio, torch.tensor([[0, 0, 0]]))
        second = network.heads(output.fine, output.fine_points, proprio, torch.tensor([[5, 0, 0]]))
    assert torch.allclose(first.rotation_logits[:, 0], second.rotation_logits[:, 0])  # x: no condition
    assert not torch.allclose(first.rotation_logits[:, 1], second.rotation_logits[:, 1])


def test_point_features_read_the_pixel_under_the_point(small_config) -> None:
    model = replace(small_config.model, views=("top", "front", "side"))
    size = model.image_size
    features = torch.zeros(1, 3, 2, size, size)
    features[0, :, 0] = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    sampled = point_features(features, model.views, torch.zeros(1, 3)).reshape(3, 2)
    # the cube's centre is the image centre in every view: the mean of its four central pixels
    centre = size // 2
    expected = features[0, 0, 0, centre - 1 : centre + 1, centre - 1 : centre + 1].mean()
    assert torch.allclose(sampled[:, 0], expected.expand(3))
