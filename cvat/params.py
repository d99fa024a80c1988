"""The ``-p name=type:value`` parameters of the CVAT function, checked before any model loads.

Why a module of its own: cvat-cli passes whatever the user typed straight to ``create(**params)``,
typed by the user (``str:``, ``float:``, ...). A misspelt name, a wrong type or a threshold out of
range must end in one line that names the parameter and the fix, not a traceback from deep in a
model loader; and the same checks serve ``cvat-cli task auto-annotate`` and the agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.model_catalog import DEFAULT_MODEL
from groundlabel.precision import DTYPE_CHOICES


class CvatParameterError(GroundlabelError):
    """A ``-p`` parameter the function cannot use."""


# name -> (type cvat-cli gives it, what it is): the list a wrong name is answered with.
PARAMETERS: dict[str, tuple[type, str]] = {
    "labels": (str, 'classes in the CLI\'s syntax, e.g. "cat, dog=puppy|hound" (required)'),
    "model": (str, f"detector: hub id or folder (default {DEFAULT_MODEL})"),
    "masks": (str, "segmenter (SAM, SAM-HQ, SAM 2) turning each box into a mask; hub id or folder"),
    "box_threshold": (float, "box score cut when CVAT sends no threshold (default 0.35)"),
    "text_threshold": (float, "Grounding DINO's text threshold (default 0.25)"),
    "class_thresholds": (str, "JSON file {class: threshold or null}, as groundlabel calibrate -o writes"),
    "max_detections": (int, "most boxes per image, best first (default: no cap)"),
    "device": (str, "auto, cpu, cuda, cuda:N or mps (default auto)"),
    "dtype": (
        str,
        "auto, fp32, bf16 or fp16 (default auto: bf16 autocast on a bf16 CPU where shown to agree)",
    ),
}
TYPE_NAMES = {str: "str", float: "float", int: "int", bool: "bool"}


@dataclass(frozen=True)
class FunctionParameters:
    labels: str
    model: str = DEFAULT_MODEL
    masks: str | None = None
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    class_thresholds: str | None = None
    max_detections: int | None = None
    device: str = "auto"
    dtype: str = "auto"


def _example(name: str, table: Mapping[str, tuple[type, str]] = PARAMETERS) -> str:
    kind = table[name][0]
    return f"-p {name}={TYPE_NAMES[kind]}:..."


def _threshold(name: str, value: float) -> float:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise CvatParameterError(f"parameter {name} is {value}: give a number from 0 to 1 ({_example(name)})")
    return float(value)


def check_names_and_types(
    params: Mapping[str, Any], table: Mapping[str, tuple[type, str]], module: str
) -> dict[str, Any]:
    """The parameters with the types ``table`` gives them (strings stripped); one line for a
    name ``module`` does not take, a wrong type or an empty string. Shared by the detection and
    the tracking function."""
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise CvatParameterError(f"unknown parameter {unknown[0]!r}; {module} takes: " + ", ".join(table))
    values: dict[str, Any] = {}
    for name, value in params.items():
        kind = table[name][0]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            given = TYPE_NAMES.get(type(value), type(value).__name__)
            raise CvatParameterError(
                f"parameter {name} must be a {TYPE_NAMES[kind]}, not a {given}: {_example(name, table)}"
            )
        if kind is str:
            value = value.strip()
            if not value:
                raise CvatParameterError(f"parameter {name} is empty: {_example(name, table)}")
        values[name] = value
    return values


def parse_parameters(params: Mapping[str, Any]) -> FunctionParameters:
    """Check names, types and ranges; raises ``CvatParameterError`` with one line."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise CvatParameterError(
            f"unknown parameter {unknown[0]!r}; groundlabel.cvat takes: " + ", ".join(PARAMETERS)
        )
    if "labels" not in params:
        raise CvatParameterError('the class list is missing: add -p labels=str:"cat, dog=puppy"')
    values = check_names_and_types(params, PARAMETERS, "groundlabel.cvat")
    for name in ("box_threshold", "text_threshold"):
        if name in values:
            values[name] = _threshold(name, values[name])
    if values.get("max_detections") is not None and values["max_detections"] < 1:
        raise CvatParameterError(f"parameter max_detections is {values['max_detections']}: give 1 or more")
    if values.get("dtype", "auto") not in DTYPE_CHOICES:
        raise CvatParameterError(f"parameter dtype is {values['dtype']!r}: give {', '.join(DTYPE_CHOICES)}")
    return FunctionParameters(**values)
