"""A constant-velocity Kalman filter on box centre and size, the motion model of SORT-like trackers.

State ``[cx, cy, w, h, vx, vy, vw, vh]``, measurement ``[cx, cy, w, h]``. Noise is
proportional to the box's size, so the filter behaves the same on a 160x120 test clip and a
4K frame (a pixel of error means more on a small box). Written from the textbook equations;
one filter per track, numpy only.
"""

from __future__ import annotations

import numpy as np

_POSITION_NOISE = 1.0 / 20.0  # standard deviation, as a fraction of the box's size
_VELOCITY_NOISE = 1.0 / 160.0

_H = np.hstack([np.eye(4), np.zeros((4, 4))])


def xyxy_to_state(box: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dtype=float)


def state_to_xyxy(z: np.ndarray) -> np.ndarray:
    cx, cy, w, h = z[:4]
    w, h = max(w, 1e-3), max(h, 1e-3)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class BoxKalman:
    """One track's filter: ``predict(steps)`` moves it on, ``update(box)`` corrects it by a detection."""

    def __init__(self, box: np.ndarray) -> None:
        z = xyxy_to_state(box)
        self.mean = np.concatenate([z, np.zeros(4)])
        size = np.array([z[2], z[3], z[2], z[3]])
        std = np.concatenate([2 * _POSITION_NOISE * size, 10 * _VELOCITY_NOISE * size])
        self.covariance = np.diag(std**2)

    def predict(self, steps: int = 1) -> None:
        for _ in range(max(1, steps)):
            w, h = self.mean[2], self.mean[3]
            size = np.array([w, h, w, h])
            q = np.diag(np.concatenate([_POSITION_NOISE * size, _VELOCITY_NOISE * size]) ** 2)
            self.mean[:4] += self.mean[4:]
            self.covariance[:4, :] += self.covariance[4:, :]
            self.covariance[:, :4] += self.covariance[:, 4:]
            self.covariance += q

    def hold_size(self) -> None:
        """Stop the size's velocity (a coasting box must not shrink or grow without evidence)."""
        self.mean[6:] = 0.0

    def update(self, box: np.ndarray) -> None:
        z = xyxy_to_state(box)
        w, h = self.mean[2], self.mean[3]
        r = np.diag((_POSITION_NOISE * np.array([w, h, w, h])) ** 2)
        s = _H @ self.covariance @ _H.T + r
        gain = np.linalg.solve(s, _H @ self.covariance).T
        self.mean = self.mean + gain @ (z - _H @ self.mean)
        self.covariance = self.covariance - gain @ _H @ self.covariance

    def box(self) -> np.ndarray:
        return state_to_xyxy(self.mean)
