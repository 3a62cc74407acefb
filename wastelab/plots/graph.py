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
    """The op type, and below it the node's (short) name unless it repeats the op."""
    label = _wrap_words(op, 12)
    if short_name and short_name.lower() != op.lower():
        label += "\n" + _wrap_words(short_name, 14)
    return label


def _order_columns(
    columns: list[list[str]], inputs: Mapping[str, Sequence[str]], sweeps: int = 4
) -> dict[str, float]:
    """Order each column by the mean position of its neighbours (barycentres)."""
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
    """Draw a small computation graph as layers: a box per node, arrows along inputs.

    ``nodes`` are dicts ``{"name": str, "op": str, "inputs": [names]}``. A node's layer
    is its longest path from the nodes without inputs; those (inputs, variables) then
    move up to the layer just before their first consumer. Within a layer nodes are
    ordered by where their neighbours sit, which keeps crossings few. Boxes show the op
    type (and the end of the name, when ``show_names``); one op type, one colour.
    ``direction`` is ``"LR"`` (left to right) or ``"TB"`` (top to bottom, better for
    long chains).
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
    graph: Any, skip_ops: Sequence[str] = ("NoOp", "Const"), data_only: bool = False
) -> list[dict[str, Any]]:
    """Nodes of a TensorFlow graph (``tf.function(...).get_concrete_function().graph``).

    Returns ``[{"name", "op", "inputs"}]`` for :func:`plot_graph`, leaving out the ops
    in ``skip_ops``. A captured variable is a node with op ``"Variable"``, named after
    the variable when the graph knows it (``"W"``), as in TensorBoard's picture. With
    ``data_only``, what only moves shapes or passes values on is left out too: ops with
    no floating-point output (shapes, indices, masks), ``Identity``, ``ReadVariableOp``
    and the gradient tape's reshaping; an edge through a left-out op then joins its
    nearest shown ancestors. Needs no TensorFlow import here.
    """
    hidden = set(skip_ops) | (_PASS_THROUGH if data_only else set())
    renamed = _variable_names(graph)

    def shown(op: Any) -> bool:
        if op.name in renamed or op.type == "Placeholder":
            return True
        if op.type in hidden:
            return False
        if not data_only or op.type.endswith("VariableOp"):  # Assign*: the updates
            return True
        if op.name.startswith("gradient_tape/") and op.type in _GRADIENT_PLUMBING:
            return False
        return any(t.dtype.is_floating for t in op.outputs)

    ops = graph.get_operations()  # in topological (creation) order
    keep = {op.name: shown(op) for op in ops}
    feeds: dict[str, list[str]] = {}  # op name -> the nearest shown ops feeding it
    nodes = []
    for op in ops:
        feeds[op.name] = _feeders(op, keep, feeds, renamed, data_only)
        if keep[op.name]:
            kind = "Variable" if _is_variable(op, renamed) else op.type
            name = renamed.get(op.name, op.name)
            nodes.append({"name": name, "op": kind, "inputs": feeds[op.name]})
    return nodes


#: Ops that only pass values on or read variables: hidden by ``data_only``.
_PASS_THROUGH = {"Identity", "ReadVariableOp"}
#: The gradient tape's reshaping of values: hidden by ``data_only``.
_GRADIENT_PLUMBING = {
    "Reshape",
    "Tile",
    "BroadcastTo",
    "ZerosLike",
    "OnesLike",
    "Fill",
    "Cast",
    "ExpandDims",
    "Squeeze",
    "SelectV2",
    "Select",
}


def _variable_names(graph: Any) -> dict[str, str]:
    """Inner op name -> variable name, for the variables a function graph captures
    (none when those variables no longer exist)."""
    try:
        variables = list(getattr(graph, "variables", ()))
    except AssertionError:  # TensorFlow: the variables were deleted
        variables = []
    names = {id(v.handle): v.name.split(":")[0] for v in variables}
    renamed: dict[str, str] = {}
    for outer, inner in getattr(graph, "captures", ()):
        if id(outer) in names:
            name, n = names[id(outer)], 1
            while name in renamed.values():  # two variables of one name: W, W_1
                name, n = f"{names[id(outer)]}_{n}", n + 1
            renamed[inner.op.name] = name
    return renamed


def _is_variable(op: Any, renamed: Mapping[str, str]) -> bool:
    dtypes = [getattr(t.dtype, "name", "") for t in op.outputs]
    return op.name in renamed or (op.type == "Placeholder" and dtypes == ["resource"])


def _feeders(
    op: Any,
    keep: Mapping[str, bool],
    feeds: Mapping[str, list[str]],
    renamed: Mapping[str, str],
    data_only: bool,
) -> list[str]:
    """The shown ops feeding ``op``: its inputs, or (through hidden ones) theirs."""
    names: list[str] = []
    for tensor in op.inputs:
        src = tensor.op
        dtype = getattr(tensor.dtype, "name", "")
        if keep[src.name]:
            found = [renamed.get(src.name, src.name)]
        elif data_only and (tensor.dtype.is_floating or dtype == "resource"):
            found = feeds[src.name]
        else:  # skipped, or a shape, an index or a mask: not part of the data flow
            found = []
        names += [n for n in found if n not in names]
    return names
