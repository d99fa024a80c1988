"""The CPU bf16 check: flags read from /proc/cpuinfo text, and the refusal line when absent."""

from __future__ import annotations

import pytest

from groundlabel import precision
from groundlabel.precision import CpuPrecision, from_cpuinfo

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse avx512f {extra}\n\nprocessor\t: 1\nflags\t\t: fpu\n"


def test_bf16_flags_found_in_first_processor() -> None:
    found = from_cpuinfo(CPUINFO.format(extra="amx_tile amx_bf16 avx512_bf16"), "AVX512")
    assert found.bf16 and found.bf16_flags == ("amx_bf16", "avx512_bf16")
    assert "amx_bf16" in found.describe() and "AVX512" in found.describe()


def test_no_bf16_units_means_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    none = from_cpuinfo(CPUINFO.format(extra="avx2"), "AVX2")
    assert not none.bf16
    monkeypatch.setattr(precision, "cpu_precision", lambda: none)
    message = precision.cpu_bf16_refusal()
    assert message is not None and "\n" not in message and "fp32" in message
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX512", ("avx512_bf16",)))
    assert precision.cpu_bf16_refusal() is None


def test_load_model_logs_cpu_precision_for_verbose(tiny_model_dir, caplog: pytest.LogCaptureFixture) -> None:
    """`groundlabel detect -v` (debug logging) names the CPU's bf16 capability when it loads on CPU."""
    import logging

    from groundlabel.model_loading import load_model

    with caplog.at_level(logging.DEBUG, logger="groundlabel.model_loading"):
        load_model(str(tiny_model_dir), device="cpu")
    assert precision.cpu_precision().describe() in caplog.text


def test_training_autocast_bf16_on_capable_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from groundlabel.errors import GroundlabelError

    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX512", ("avx512_bf16",)))
    with precision.training_autocast("cpu", "bf16"):
        assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.bfloat16
    with precision.training_autocast("cpu", "fp32"):
        assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.float32
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX2", ()))
    with pytest.raises(GroundlabelError, match="bf16 matrix units"):
        precision.training_autocast("cpu", "bf16")
