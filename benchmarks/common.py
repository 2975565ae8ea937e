"""What every benchmark shares: timing, the machine, and figures measured against a target.

A :class:`Figure` is one line of BENCHMARKS.md: a measured value, the target it is held to
(or none where no issue set one) and, when the target is missed, a sentence saying why.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Shortest wall time of ``repeats`` calls of ``fn`` (seconds), and the last result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def touch_memory(gb: float, *, block_gb: float = 0.5) -> dict:
    """Write ``gb`` GB of fresh memory twice, in ``block_gb`` blocks alive at once; seconds.

    On a virtual machine whose host backs guest RAM on first use, the first pass costs
    what a freshly booted VM pays once for each page (measured here: ~2.5 s/GB, against
    0.05 s/GB for a page the guest has used before); after it, the guest's allocator hands
    those pages out again, so the figures that follow measure the code, not the host. The
    second pass shows what an ordinary page costs.
    """
    import numpy as np

    n = int(block_gb * 2**30 / 4)
    out = {"gb": gb}
    for label in ("first", "again"):
        start = time.perf_counter()
        blocks = []
        for _ in range(max(1, round(gb / block_gb))):
            block = np.empty(n, np.float32)
            block.fill(1.0)
            blocks.append(block)
        out[f"{label}_seconds"] = round(time.perf_counter() - start, 2)
        del blocks
    return out


def machine() -> dict:
    """Cores, load average, and the versions that decide the speed of these figures."""
    import numpy as np
    from threadpoolctl import threadpool_info

    blas = [
        {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for pool in threadpool_info()
        if pool.get("user_api") == "blas"
    ]
    info = {
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_environment": {
            k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


@dataclass
class Figure:
    """One measured figure and its target.

    ``target`` is None where no issue set one; ``higher_is_better`` says whether the target
    is a floor (ratios, tokens/s) or a ceiling (seconds). ``gap`` is the sentence shown when
    the target is not met; ``note`` says what exactly was measured; ``extra`` is a short
    companion figure shown beside the value (e.g. the tokens/s behind a ratio).
    """

    section: str
    name: str
    value: float
    unit: str
    target: float | None = None
    higher_is_better: bool = True
    source: str = ""
    gap: str = ""
    note: str = ""
    extra: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        ok = self.value >= self.target if self.higher_is_better else self.value < self.target
        return bool(ok)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["met"] = self.met
        if self.met is not False:
            out.pop("gap")
        return out


def fmt(value: float, unit: str) -> str:
    """A value with its unit, rounded to what a reader needs."""
    if unit == "x":
        return (
            f"{value:,.0f}x"
            if value >= 100
            else f"{value:.2f}x"
            if value >= 1
            else (f"{value:.3f}x")
        )
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"
    if unit == "tokens/s":
        return f"{value:,.0f} tokens/s"
    return f"{value:,.3g} {unit}".strip()


def target_text(fig: Figure) -> str:
    if fig.target is None:
        return "none set"
    sign = ">=" if fig.higher_is_better else "<"
    return f"{sign} {fmt(fig.target, fig.unit)}"


def print_figures(figures: list[Figure]) -> None:
    """The figures as aligned lines (the standalone scripts' output)."""
    for fig in figures:
        verdict = {True: "met", False: "NOT met", None: ""}[fig.met]
        extra = f"  ({fig.extra})" if fig.extra else ""
        print(
            f"  {fig.name:<58} {fmt(fig.value, fig.unit):>10}   target {target_text(fig):<12}"
            f" {verdict}{extra}"
        )
        if fig.met is False and fig.gap:
            print(f"      gap: {fig.gap}")


class Spent:
    """Accumulates the time spent in chosen module functions while in the ``with`` block."""

    def __init__(self, *targets: tuple[object, str]):
        self.targets = targets
        self.seconds = {name: 0.0 for _, name in targets}

    def __enter__(self):
        self.originals = [getattr(module, name) for module, name in self.targets]
        for (module, name), original in zip(self.targets, self.originals, strict=True):

            def timed(*args, _original=original, _name=name, **kwargs):
                start = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds[_name] += time.perf_counter() - start

            setattr(module, name, timed)
        return self

    def __exit__(self, *exc):
        for (module, name), original in zip(self.targets, self.originals, strict=True):
            setattr(module, name, original)
