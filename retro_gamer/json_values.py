"""Numbers JSON cannot hold: the one rule for every JSON file and ``--json`` output."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON ``null``), inside
    dicts, lists and tuples too (tuples become lists). A NaN means "not defined" here (the
    spread of a single score, a rate before any step), which JSON can only say as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
