"""Rotations as discretised Euler angles (static x-y-z, i.e. R = Rz(c) Ry(b) Rx(a)), as RVT predicts them.

Bin ``k`` of ``bins`` is centred on the angle ``k * 2 pi / bins`` (so 0 and pi, the angles a top-down
grasp has, sit at bin centres rather than on bin edges).
"""

from __future__ import annotations

import numpy as np
from transforms3d.euler import euler2mat, mat2euler


def matrix_to_bins(rotation: np.ndarray, bins: int) -> np.ndarray:
    """The three Euler-angle bins (int64) of a 3x3 rotation matrix."""
    angles = np.array(mat2euler(np.asarray(rotation, dtype=float), "sxyz"))
    return np.mod(np.round(angles / (2.0 * np.pi / bins)), bins).astype(np.int64)


def bins_to_matrix(indices: np.ndarray, bins: int) -> np.ndarray:
    """The 3x3 rotation matrix of three Euler-angle bins."""
    angles = np.asarray(indices, dtype=float) * (2.0 * np.pi / bins)
    return np.array(euler2mat(*angles, "sxyz"))


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Geodesic angle (rad) between two rotation matrices."""
    cosine = (np.trace(np.asarray(a).T @ np.asarray(b)) - 1.0) / 2.0
    return float(np.arccos(np.clip(cosine, -1.0, 1.0)))
