"""Plots of a run: base trajectory and height, joint angles, and a footfall (gait) diagram."""
from __future__ import annotations

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CONTACT_THRESHOLD_N = 1.0


def plot_run(result, path) -> None:
    """Draw the standard panels (and the controller's own, if it has ``plot_panels``) to ``path``."""
    trace = result.trace.arrays()
    extra = getattr(result.controller, 'plot_panels', None)
    n_extra = extra.count if extra is not None and hasattr(extra, 'count') else 0
    fig, axes = plt.subplots(3 + n_extra, 1, figsize=(9, 2.4 * (3 + n_extra)), sharex=True,
                             squeeze=False)
    axes = axes[:, 0]
    t = trace['time']
    base = trace['base_position']
    if len(t):
        axes[0].plot(t, base[:, 0], label='x')
        axes[0].plot(t, base[:, 1], label='y')
        axes[0].plot(t, base[:, 2], label='z')
    axes[0].set_ylabel('base position (m)')
    axes[0].legend(loc='upper left', fontsize=7)
    if len(t):
        axes[1].plot(t, trace['joint_position'], linewidth=0.8)
    axes[1].set_ylabel('joint position (rad)')
    forces = trace['foot_forces']
    names = list(result.foot_names)
    if len(t) and forces.ndim == 2 and forces.shape[1]:
        for i in range(forces.shape[1]):
            on = forces[:, i] > CONTACT_THRESHOLD_N
            axes[2].fill_between(t, i + 0.1, i + 0.9, where=on, step='mid', color='k')
        axes[2].set_yticks(np.arange(forces.shape[1]) + 0.5)
        axes[2].set_yticklabels(names or [f'foot {i}' for i in range(forces.shape[1])])
    axes[2].set_ylabel('stance')
    if n_extra:
        extra(axes[3:], result)
    axes[-1].set_xlabel('time (s)')
    m = result.metrics
    fig.suptitle(f"{m['robot']} / {m['controller']}: {m['speed_mps']:.2f} m/s, fell={m['fell']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100, format='png')
    plt.close(fig)
