"""What a measurement produces, and the error that turns one into "n/a"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class WorkloadFailed(RuntimeError):
    """The server cannot run this workload (unsupported, wrong answers, crashed): "n/a"."""


@dataclass(frozen=True)
class Timing:
    measure_s: int
    warmup_s: int


@dataclass
class Measurement:
    value: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    workload: str
    interface: str
    server: str
    unit: str
    value: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    reason: str = ""  # why the value is missing
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.value is not None

    @classmethod
    def measured(cls, key: tuple[str, str, str], unit: str, m: Measurement) -> Result:
        workload, interface, server = key
        return cls(
            workload, interface, server, unit, m.value, m.p50_ms, m.p99_ms, m.errors, extra=m.extra
        )

    @classmethod
    def failed(cls, key: tuple[str, str, str], unit: str, reason: str) -> Result:
        workload, interface, server = key
        return cls(workload, interface, server, unit, reason=reason)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
