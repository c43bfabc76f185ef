"""Drawings of nets (Figure 1 style) and timing diagrams; matplotlib only, no state."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .model import Net  # noqa: E402


def layout(net: Net) -> dict[str, tuple[float, float]]:
    """Afferents in column 0; every other cell at its longest distance from them once the edges that close a
    circle back towards the afferents are set aside; cells in a column ordered by their sources' heights."""
    succ: dict[str, list[str]] = {c: [] for c in net.cells}
    for s, t, _, _ in net.edges():
        if t not in succ[s]:
            succ[s].append(t)

    def reach(a):
        seen, stack = {a}, [a]
        while stack:
            for t in succ[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return seen

    dist, frontier = {a: 0 for a in net.afferents}, list(net.afferents)
    while frontier:
        nxt = []
        for c in frontier:
            for t in succ[c]:
                if t not in dist:
                    dist[t] = dist[c] + 1
                    nxt.append(t)
        frontier = nxt
    big = len(net.cells)
    back = {(s_, t) for s_ in net.cells for t in succ[s_]
            if s_ in reach(t) and dist.get(t, big) <= dist.get(s_, big)}
    level = {c: 0 for c in net.cells}
    for _ in range(len(net.cells)):
        for s_ in net.cells:
            for t in succ[s_]:
                if (s_, t) not in back and s_ != t and t not in net.afferents:
                    level[t] = max(level[t], level[s_] + 1)
    columns: dict[int, list[str]] = {}
    for c in net.cells:
        columns.setdefault(level[c], []).append(c)
    pos: dict[str, tuple[float, float]] = {}
    preds = {c: [s_ for s_, t, _, _ in net.edges() if t == c and s_ != c] for c in net.cells}
    for x in sorted(columns):
        cells = columns[x]
        if x > 0:
            def bary(c):
                ys = [pos[p][1] for p in preds[c] if p in pos]
                return -sum(ys) / len(ys) if ys else 0.0
            cells = sorted(cells, key=bary)
        for i, c in enumerate(cells):
            pos[c] = (1.6 * x, (len(cells) - 1) / 2 - i)
    return pos


def draw_net(net: Net, ax, title: str | None = None) -> None:
    """Cells as circles (afferents grey, relative-inhibition cells blue, outputs with a thick rim), excitatory
    synapses as black arrows labelled with their number of end-bulbs when > 1, inhibitory synapses as red lines
    ending in a bar; theta under each cell."""
    pos = layout(net)
    r = 0.24
    for s, t, kind, k in net.edges():
        (x0, y0), (x1, y1) = pos[s], pos[t]
        color = "tab:red" if kind == "inhibitory" else "black"
        style = "-[" if kind == "inhibitory" else "-|>"
        if s == t:  # a circle of one cell
            ax.annotate("", xy=(x1 + 0.12, y1 + r * 0.9), xytext=(x0 - 0.12, y0 + r * 0.9),
                        arrowprops=dict(arrowstyle=style, color=color, connectionstyle="arc3,rad=-1.8",
                                        shrinkA=0, shrinkB=0, lw=1.1))
            lx, ly = x0, y0 + r + 0.32
        else:
            dx, dy = x1 - x0, y1 - y0
            dist = max((dx * dx + dy * dy) ** 0.5, 1e-9)
            ux, uy = dx / dist, dy / dist
            back = x1 <= x0
            rad = 0.4 if back else (0.15 if kind == "inhibitory" else 0.0)
            ax.annotate("", xy=(x1 - ux * r, y1 - uy * r), xytext=(x0 + ux * r, y0 + uy * r),
                        arrowprops=dict(arrowstyle=style, color=color, shrinkA=0, shrinkB=0, lw=1.1,
                                        connectionstyle=f"arc3,rad={rad}", mutation_scale=9))
            lx, ly = x0 + 0.35 * dx, y0 + 0.35 * dy + 0.06
        if k > 1:
            ax.text(lx, ly, f"×{k}", fontsize=6.5, color=color, ha="center", va="bottom",
                    bbox=dict(facecolor="white", edgecolor="none", pad=0.2, alpha=0.8))
    for c, (x, y) in pos.items():
        n = net.by_name.get(c)
        face = "0.85" if c in net.afferents else ("lightskyblue" if n and n.inhibition == "relative" else "white")
        ax.add_patch(plt.Circle((x, y), r, facecolor=face, edgecolor="black",
                                lw=2.4 if c in net.outputs else 1.0, zorder=3))
        ax.text(x, y, c, ha="center", va="center", fontsize=8 if len(c) <= 3 else 6 if len(c) <= 5 else 5,
                zorder=4)
        if n is not None:
            ax.text(x, y - r - 0.05, f"θ={n.theta}", ha="center", va="top", fontsize=5.5, color="0.3", zorder=4)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(max(xs), 4.8) + 0.6)
    ax.set_ylim(min(min(ys), -1.5) - 0.5, max(max(ys), 1.5) + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or net.name, fontsize=9)


def draw_nets(nets: dict[str, Net], path, ncols: int = 3, titles: dict[str, str] | None = None) -> None:
    n = len(nets)
    nrows = (n + ncols - 1) // ncols
    width = max(max(p[0] for p in layout(net).values()) for net in nets.values())
    per = max(4.2, 0.75 * width + 1.2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(per * ncols, 3.2 * nrows))
    axes = axes.ravel() if n > 1 else [axes]
    for ax, (k, net) in zip(axes, nets.items()):
        draw_net(net, ax, (titles or {}).get(k, net.name))
    for ax in list(axes)[n:]:
        ax.axis("off")
    fig.suptitle(f"rule: a cell fires when its excitation {nets[next(iter(nets))].rule} θ\n"
                 "black arrows excite (×k end-bulbs), red bars inhibit, thick rim = output, grey = afferent",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def timing_diagram(panels: list[tuple[str, torch.Tensor, list[str], list[tuple[int, str]]]], path,
                   suptitle: str = "") -> None:
    """panels: (title, actions [C, T] bool, row labels, annotations (t, text)); one raster per panel."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.0), sharey=True)
    axes = axes if len(panels) > 1 else [axes]
    colors = ["tab:orange", "tab:blue", "tab:red", "tab:cyan"]
    for ax, (title, acts, labels, notes) in zip(axes, panels):
        C, T = acts.shape
        for i in range(C):
            y = C - 1 - i
            for t in range(T):
                if acts[i, t]:
                    ax.add_patch(plt.Rectangle((t, y + 0.1), 0.9, 0.8, color=colors[i % len(colors)]))
            ax.axhline(y, color="0.85", lw=0.5)
        for t, text in notes:
            ax.axvline(t + 0.45, color="0.4", ls=":", lw=0.8)
            ax.text(t + 0.5, C + 0.05, text, fontsize=7, ha="center", va="bottom", rotation=0)
        ax.set_xlim(0, T)
        ax.set_ylim(0, C + 0.8)
        ax.set_yticks([C - 1 - i + 0.5 for i in range(C)])
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xticks(range(0, T + 1, 2))
        ax.set_xlabel("t (synaptic delays)", fontsize=8)
        ax.set_title(title, fontsize=9, pad=18)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
