"""An optional compiled CPU kernel for deformable-attention sampling.

The fused gather in ``deformable`` is pure PyTorch and always works, but on CPU its
index and weight tensors (four corners for every sampling point) still cost several
passes over memory. This kernel walks the points once and accumulates straight into
the output. It is compiled on first use with ``torch.utils.cpp_extension`` (needs a
C++ compiler and ninja; the build is cached under the torch extensions directory by
``kernel_build``, whose lock dies with its holder, so an interrupted build strands nobody);
when that is not possible ``load_kernel`` returns ``None`` and callers use the
PyTorch path. The arithmetic per corner is ``grid_sample``'s (bilinear, zeros
padding, ``align_corners=False``) followed by the attention-weighted sum, in the
reference's order: corners of one point first, then points.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import ModuleType

import torch

from groundlabel.inference.kernel_build import cached_extension

log = logging.getLogger(__name__)

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>

torch::Tensor ms_deform_sample(
    torch::Tensor value,          // (B, S, H, D) float32 contiguous
    torch::Tensor shapes,         // (L, 2) int64: height, width
    torch::Tensor locations,      // (B, Q, H, L, P, 2) float32 contiguous, x then y in [0, 1]
    torch::Tensor weights) {      // (B, Q, H, L, P) float32 contiguous
  TORCH_CHECK(value.scalar_type() == torch::kFloat32, "value must be float32");
  const int64_t B = value.size(0), S = value.size(1), H = value.size(2), D = value.size(3);
  const int64_t Q = locations.size(1), L = locations.size(3), P = locations.size(4);
  auto out = torch::zeros({B, Q, H * D}, value.options());
  const float* v = value.data_ptr<float>();
  const float* loc = locations.data_ptr<float>();
  const float* aw = weights.data_ptr<float>();
  float* o = out.data_ptr<float>();
  auto sh = shapes.accessor<int64_t, 2>();
  std::vector<int64_t> hs(L), ws(L), starts(L);
  int64_t start = 0;
  for (int64_t l = 0; l < L; ++l) { hs[l] = sh[l][0]; ws[l] = sh[l][1]; starts[l] = start; start += hs[l] * ws[l]; }
  TORCH_CHECK(D <= 256, "head dim above 256 is not supported");
  at::parallel_for(0, B * Q, 16, [&](int64_t begin, int64_t end) {
    float acc[256];
    for (int64_t bq = begin; bq < end; ++bq) {
      const int64_t b = bq / Q;
      const float* vb = v + b * S * H * D;
      for (int64_t h = 0; h < H; ++h) {
        float* oh = o + (bq * H + h) * D;
        const int64_t base = (bq * H + h) * L * P;
        for (int64_t l = 0; l < L; ++l) {
          const int64_t Hl = hs[l], Wl = ws[l];
          const float half_w = static_cast<float>(Wl) / 2, half_h = static_cast<float>(Hl) / 2;
          for (int64_t p = 0; p < P; ++p) {
            const int64_t idx = base + l * P + p;
            const float gx = 2 * loc[idx * 2] - 1, gy = 2 * loc[idx * 2 + 1] - 1;
            const float x = (gx + 1) * half_w - 0.5f, y = (gy + 1) * half_h - 0.5f;
            const float x0f = std::floor(x), y0f = std::floor(y);
            const int64_t x0 = static_cast<int64_t>(x0f), y0 = static_cast<int64_t>(y0f);
            const float fx = x - x0f, fy = y - y0f;
            const float cw[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
            const int64_t cx[4] = {x0, x0 + 1, x0, x0 + 1};
            const int64_t cy[4] = {y0, y0, y0 + 1, y0 + 1};
            for (int64_t d = 0; d < D; ++d) acc[d] = 0;
            for (int c = 0; c < 4; ++c) {
              if (cx[c] < 0 || cx[c] >= Wl || cy[c] < 0 || cy[c] >= Hl) continue;
              const float* row = vb + ((starts[l] + cy[c] * Wl + cx[c]) * H + h) * D;
              const float w = cw[c];
              for (int64_t d = 0; d < D; ++d) acc[d] += w * row[d];
            }
            const float a = aw[idx];
            for (int64_t d = 0; d < D; ++d) oh[d] += a * acc[d];
          }
        }
      }
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("ms_deform_sample", &ms_deform_sample); }
"""

_lock = threading.Lock()
_state: dict[str, object] = {}

DISABLE_ENV = "GROUNDLABEL_NO_NATIVE"


def _cpu_tag() -> str:
    """Builds use -march=native: key the cache by CPU so a shared home never runs a foreign build."""
    import hashlib
    import platform

    flags = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags += next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha1(flags.encode()).hexdigest()[:10]


def kernel_name() -> str:
    return f"groundlabel_msda_v3_{_cpu_tag()}"


def _build(folder: Path) -> ModuleType:
    from torch.utils.cpp_extension import load_inline

    return load_inline(
        name=kernel_name(),
        cpp_sources=[_SOURCE],
        extra_cflags=["-O3", "-march=native", "-ffp-contract=fast"],
        build_directory=str(folder),
        verbose=False,
    )


def load_kernel() -> ModuleType | None:
    """The compiled module, or ``None`` when it cannot be built here (then use PyTorch)."""
    with _lock:
        if "kernel" in _state:
            return _state["kernel"]
        kernel = None
        if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
            log.info("native deformable kernel disabled by %s", DISABLE_ENV)
        else:
            try:
                kernel = cached_extension(
                    kernel_name(),
                    _build,
                    what="the native deformable-attention kernel",
                    # A warning so a terminal shows it: the first detection is otherwise silent for a minute.
                    notice=(
                        "building the native deformable-attention kernel: once per machine, about a minute "
                        f"({DISABLE_ENV}=1 skips it)"
                    ),
                )
            except Exception as exc:  # no compiler, no ninja, no headers: fall back, do not fail
                log.warning("native deformable kernel unavailable (%s); using the PyTorch path", exc)
                kernel = None
        _state["kernel"] = kernel
        return kernel


def native_sample(
    value: torch.Tensor,
    spatial_shapes_list: list[tuple[int, int]],
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor | None:
    """(B, Q, H*D) from the compiled kernel, or ``None`` when it does not apply."""
    if value.device.type != "cpu" or value.dtype != torch.float32:
        return None
    kernel = load_kernel()
    if kernel is None:
        return None
    shapes = torch.tensor(spatial_shapes_list, dtype=torch.int64)
    return kernel.ms_deform_sample(
        value.contiguous(), shapes, sampling_locations.contiguous(), attention_weights.contiguous()
    )
