"""The report's figures (matplotlib, no pyplot state): each function takes plain Python or pandas
data and returns PNG bytes."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return buf.getvalue()


def weekly_sales(weeks: pd.DataFrame) -> bytes:
    """weeks: week_start, units, revenue, buyers (one row per week)."""
    fig = Figure(figsize=(10, 3.6))
    ax = fig.add_subplot()
    ax.plot(weeks["week_start"], weeks["units"], color=BLUE, label="units")
    ax.set_ylabel("units per week", color=BLUE)
    ax2 = ax.twinx()
    ax2.plot(weeks["week_start"], weeks["buyers"], color=ORANGE, label="buyers")
    ax2.set_ylabel("buyers per week", color=ORANGE)
    ax.set_title("Weekly sales")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return png(fig)


def hbar(labels: list[str], values: list[float], title: str, xlabel: str,
         highlight: str | None = None, fmt: str = "{:.4f}") -> bytes:
    """A horizontal bar chart, first label on top, each bar annotated."""
    n = len(labels)
    fig = Figure(figsize=(8, max(1.6, 0.36 * n + 0.9)))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    colors = [ORANGE if lab == highlight else BLUE for lab in labels]
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, labels)
    top = max([v for v in values if v is not None and not math.isnan(v)] or [1.0])
    for yi, v in zip(y, values):
        ax.text(v + top * 0.01, yi, fmt.format(v), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 if top > 0 else 1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return png(fig)


def lift_heatmap(matrix: pd.DataFrame, title: str) -> bytes:
    """matrix: rows = segments, columns = "dimension: value", cells = lift (NaN: no units)."""
    rows, cols = matrix.shape
    fig = Figure(figsize=(min(3.0 + 0.62 * cols, 20), 1.6 + 0.45 * rows))
    ax = fig.add_subplot()
    values = np.log2(matrix.to_numpy(dtype=float).clip(min=1 / 16))
    finite = values[np.isfinite(values)]
    span = max(float(np.abs(finite).max()) if finite.size else 1.0, 0.5)
    im = ax.imshow(values, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -span, span), aspect="auto")
    ax.set_xticks(range(cols), list(matrix.columns), rotation=45, ha="right", fontsize=9,
                  rotation_mode="anchor")
    ax.set_yticks(range(rows), list(matrix.index), fontsize=8)
    for i in range(rows):
        for j in range(cols):
            v = matrix.iat[i, j]
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8)
    cbar = fig.colorbar(im, ax=ax, fraction=0.03)
    cbar.set_label("lift (log2 colour scale; 1 = like all customers)")
    ax.set_title(title)
    return png(fig)


def boxplot(groups: dict[str, np.ndarray], title: str, ylabel: str) -> bytes:
    """One box per group (whiskers 5th-95th percentile), on a log scale when values span > 100x."""
    labels = list(groups)
    data = [np.asarray(groups[k], dtype=float) for k in labels]
    fig = Figure(figsize=(max(6, 0.9 * len(labels) + 2), 4.2))
    ax = fig.add_subplot()
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, ha="right", fontsize=8)
    positive = np.concatenate([d[d > 0] for d in data if d.size]) if data else np.array([])
    if positive.size and positive.max() / max(positive.min(), 1e-12) > 100:
        ax.set_yscale("symlog", linthresh=float(np.quantile(positive, 0.05)))
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    return png(fig)


def grouped_bars(categories: list[str], series: dict[str, list[float]], title: str,
                 ylabel: str) -> bytes:
    """Vertical bars, one group per category and one bar per series."""
    fig = Figure(figsize=(max(6, 0.9 * len(categories) + 2), 3.8))
    ax = fig.add_subplot()
    x = np.arange(len(categories))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, categories, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return png(fig)
