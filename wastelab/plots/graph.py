"""Computation graphs of TensorFlow functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import _SMALL, PALETTE, _new_figure, book_style


def _graph_layers(nodes: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Layer of each node: the longest path (in edges) from any node without inputs."""
    names = [str(n.get("name", "")) for n in nodes]
    if len(set(names)) != len(names) or "" in names:
        raise ValueError("every node needs a unique, non-empty 'name'")
    inputs = {str(n["name"]): [str(i) for i in n.get("inputs", [])] for n in nodes}
    for name, ins in inputs.items():
        missing = [i for i in ins if i not in inputs]
        if missing:
            raise ValueError(f"node {name!r} has unknown inputs {missing}")
    layer: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str) -> int:
        if state.get(name) == 2:
            return layer[name]
        if state.get(name) == 1:
            raise ValueError(f"the graph has a cycle through node {name!r}")
        state[name] = 1
        layer[name] = max((visit(i) + 1 for i in inputs[name]), default=0)
        state[name] = 2
        return layer[name]

    for name in names:
        visit(name)
    return layer


def _wrap_words(text: str, width: int) -> str:
    """Break a CamelCase or path-like label into lines of about ``width`` characters."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[^A-Za-z0-9]+|.", text)
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line += word
    return "\n".join([*lines, line])


def _short_names(names: Sequence[str]) -> dict[str, str]:
    """A scope name per node: ``model/dense_1/MatMul`` -> ``dense_1`` (the shared first
    scope dropped); names without scopes stay as they are."""
    split = {n: [p for p in n.split("/") if p] or [n] for n in names}
    scoped = [parts for parts in split.values() if len(parts) > 1]
    drop = len(scoped) > 1 and len({parts[0] for parts in scoped}) == 1
    short = {}
    for name, parts in split.items():
        if drop and len(parts) > 1:
            parts = parts[1:]
        short[name] = parts[0]
    return short


def _node_label(op: str, short_name: str | None) -> str:
    """The op type, and below it the node's (short) name unless it only repeats the op."""
    label = _wrap_words(op, 12)
    if short_name and short_name.lower() != op.lower():
        label += "\n" + _wrap_words(short_name, 14)
    return label


def _order_columns(
    columns: list[list[str]], inputs: Mapping[str, Sequence[str]], sweeps: int = 4
) -> dict[str, float]:
    """Order each column by the mean position of its neighbours (barycentre heuristic)."""
    consumers: dict[str, list[str]] = {n: [] for col in columns for n in col}
    for name, ins in inputs.items():
        for src in ins:
            consumers[src].append(name)
    pos = {n: i - (len(col) - 1) / 2 for col in columns for i, n in enumerate(col)}
    for _ in range(sweeps):
        for col in columns:

            def key(name: str) -> float:
                near = [pos[m] for m in (*inputs[name], *consumers[name])]
                return float(np.mean(near)) if near else pos[name]

            col.sort(key=key)
            pos.update({n: i - (len(col) - 1) / 2 for i, n in enumerate(col)})
    return pos


def plot_graph(
    nodes: Sequence[Mapping[str, Any]],
    title: str = "Computation graph",
    show_names: bool = True,
    direction: str = "LR",
) -> Figure:
    """Draw a small computation graph as a layered DAG: one box per node, arrows along inputs.

    ``nodes`` are dicts ``{"name": str, "op": str, "inputs": [names]}``. A node's layer is
    its longest path from the nodes without inputs; those (inputs, variables) then move up
    to the layer just before their first consumer. Within a layer nodes are ordered by
    where their neighbours sit, which keeps crossings few. Boxes show the op type (and
    the end of the name, when ``show_names``); one op type, one colour. ``direction`` is
    ``"LR"`` (left to right) or ``"TB"`` (top to bottom, better for long chains).
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', got {direction!r}")
    if not nodes:
        raise ValueError("nodes must hold at least one node")
    for n in nodes:
        if not isinstance(n, Mapping) or "name" not in n or "op" not in n:
            raise ValueError(
                f"each node must be a dict with 'name' and 'op', got {n!r}"
            )
    layer = _graph_layers(nodes)
    inputs = {str(n["name"]): [str(i) for i in n.get("inputs", [])] for n in nodes}
    consumers: dict[str, list[str]] = {name: [] for name in inputs}
    for name, ins in inputs.items():
        for src in ins:
            consumers[src].append(name)
    # then every node with consumers moves up to just before its first consumer, so that
    # variables and their reads sit next to the op that uses them
    for name in sorted(inputs, key=lambda n: -layer[n]):
        if consumers[name]:
            layer[name] = min(layer[m] for m in consumers[name]) - 1
    offset = min(layer.values())
    layer = {name: lay - offset for name, lay in layer.items()}
    n_layers = max(layer.values()) + 1
    columns: list[list[str]] = [[] for _ in range(n_layers)]
    for name in inputs:
        columns[layer[name]].append(name)
    pos = _order_columns(columns, inputs)
    ops = {str(n["name"]): str(n["op"]) for n in nodes}
    op_color = {
        op: PALETTE[i % (len(PALETTE) - 1)]
        for i, op in enumerate(dict.fromkeys(ops.values()))
    }
    short = _short_names(list(ops))
    labels = {
        name: _node_label(op, short[name] if show_names else None)
        for name, op in ops.items()
    }
    chars = max(len(line) for lab in labels.values() for line in lab.split("\n"))
    lines = max(lab.count("\n") + 1 for lab in labels.values())
    box_w, box_h = 0.075 * chars + 0.25, 0.19 * lines + 0.2  # inches at 10 pt
    tallest = max(len(c) for c in columns)
    if direction == "LR":
        along, across = box_w + 0.4, box_h + 0.25
        size = (along * n_layers + 0.3, across * tallest + 0.7)
    else:
        along, across = box_h + 0.4, box_w + 0.2
        size = (max(across * tallest + 0.3, 4.0), along * n_layers + 0.7)
    size = (min(size[0], 14.0), min(size[1], 14.0))
    with book_style():
        fig = _new_figure(size)
        ax = fig.add_subplot()
        ax.set_axis_off()
        boxes = {}
        for name, op in ops.items():
            xy = (
                (layer[name], -pos[name])
                if direction == "LR"
                else (pos[name], -layer[name])
            )
            boxes[name] = ax.text(
                *xy,
                labels[name],
                ha="center",
                va="center",
                fontsize=_SMALL,
                linespacing=1.25,
                zorder=2,
                bbox={
                    "boxstyle": "round,pad=0.35",
                    "fc": op_color[op] + "30",
                    "ec": op_color[op],
                    "lw": 1.5,
                },
            )
        ends = (
            ((0.0, 0.5), (1.0, 0.5)) if direction == "LR" else ((0.5, 1.0), (0.5, 0.0))
        )
        for name, ins in inputs.items():
            for src in ins:
                skip = layer[name] - layer[src] > 1
                ax.annotate(
                    "",
                    xy=ends[0],
                    xycoords=boxes[name].get_bbox_patch(),
                    xytext=ends[1],
                    textcoords=boxes[src].get_bbox_patch(),
                    zorder=3,
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": "#555555",
                        "lw": 1.2,
                        "shrinkA": 0,
                        "shrinkB": 0,
                        "mutation_scale": 12,
                        "connectionstyle": "arc3,rad=-0.2" if skip else "arc3",
                    },
                )
        half = (tallest - 1) / 2
        lim_layers, lim_across = (-0.6, n_layers - 0.4), (-half - 0.6, half + 0.6)
        if direction == "LR":
            ax.set_xlim(*lim_layers)
            ax.set_ylim(*lim_across)
        else:
            ax.set_xlim(*lim_across)
            ax.set_ylim(-n_layers + 0.4, 0.6)
        ax.set_title(title)
    return fig


def tf_graph_nodes(
    graph: Any, skip_ops: Sequence[str] = ("NoOp", "Const")
) -> list[dict[str, Any]]:
    """Nodes of a TensorFlow graph (``tf.function(...).get_concrete_function().graph``).

    Returns ``[{"name", "op", "inputs"}]`` for :func:`plot_graph`, dropping ``skip_ops``
    (edges through a dropped node are dropped too). A captured variable (a ``Placeholder``
    holding a resource handle) is called ``"Variable"``, as in TensorBoard's picture.
    Needs no TensorFlow import here.
    """
    ops = graph.get_operations()
    kept = {op.name for op in ops if op.type not in skip_ops}
    nodes = []
    for op in ops:
        if op.name not in kept:
            continue
        kind = op.type
        dtypes = [getattr(t.dtype, "name", "") for t in op.outputs]
        if kind == "Placeholder" and dtypes == ["resource"]:
            kind = "Variable"
        ins = list(dict.fromkeys(t.op.name for t in op.inputs if t.op.name in kept))
        nodes.append({"name": op.name, "op": kind, "inputs": ins})
    return nodes
