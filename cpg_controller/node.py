"""``cpg_node``: the CPG controllers (``cpg`` spiking, ``oscillator`` Hopf/Ijspeert) as a ROS 2 node.

A :class:`~neuro_locomotion.controller_node.ControllerNode` whose parameter ``controller`` defaults
to ``cpg`` (the spiking CPG, quadruped and salamander); ``-p controller:=oscillator`` runs the
non-spiking reference oscillators instead. Topics and parameters: docs/ros.md.

With the modulated network (``spiking.modulated: true``; docs/neuromodulation.md) the node is also
the ROS interface of the neuromodulators:

* ``cpg/neuromodulators`` (std_msgs/Float64MultiArray, labelled: ``layout.dim[0].label`` = the
  modulator names joined by ',', one value each) sets modulator TARGETS by name; a malformed
  layout, an unknown name, NaN or a value outside [0, 1] is refused (throttled log with the
  reason, counted in the diagnostics) and changes nothing;
* ranged parameters ``neuromodulation.<modulator>.target`` / ``.tau_release_s`` /
  ``.tau_uptake_s`` and ``speed_mps`` (supraspinal command), live through SetParameters; ``gait``
  commands the gait table's levels (``command_gait``) instead of rebuilding; a ``gait`` set
  alone is timed like a schedule's (a change listed in the ``transitions`` table waits for its
  leg's release phase, at most ``max_wait_s``), its targets written back once released. The target
  parameters always show the targets in force (a command from the topic, ``gait`` or
  ``speed_mps`` writes them back);
* ``~/state`` carries ``concentration.<name>`` and ``target.<name>``.
"""
from __future__ import annotations

import math
import sys

from neuro_locomotion.controller_node import ControllerNode, main as _main
from neuro_locomotion.params import ConfigError, ParamSpec

TAU_MIN_S, TAU_MAX_S = 1e-3, 60.0
PREFIX = 'neuromodulation.'


def modulation_specs(controller) -> list[ParamSpec]:
    """The ranged parameters of a modulated ``cpg`` controller: per modulator its target (the
    current target as default) and time constants (the neuromodulation file's), and
    ``speed_mps`` when the file has a speed_command table."""
    mods = controller.cpg.mod.modulators
    specs = []
    for k, m in enumerate(controller.nm.modulators):
        base = f'{PREFIX}{m.name}.'
        tau_release, tau_uptake = mods.time_constants(m.name)
        specs += [
            ParamSpec(base + 'target', float(mods.target[k]), f'target concentration of '
                      f'{m.name}; the concentration follows it with the time constants', '1',
                      min=0.0, max=1.0),
            ParamSpec(base + 'tau_release_s', tau_release, f'time constant of {m.name} '
                      'while its target is above the concentration', 's', min=TAU_MIN_S,
                      max=TAU_MAX_S),
            ParamSpec(base + 'tau_uptake_s', tau_uptake, f'time constant of {m.name} '
                      'while its target is below the concentration', 's', min=TAU_MIN_S,
                      max=TAU_MAX_S)]
    if controller.nm.speed_command:
        speeds = controller.nm.speed_command[0]
        specs.append(ParamSpec('speed_mps', 0.0, 'desired forward speed (supraspinal command: '
                               f'the speed_command table, {speeds[0]:g}-{speeds[-1]:g} m/s, sets '
                               'the modulator targets); 0 = none', 'm/s', min=0.0,
                               max=float(speeds[-1])))
    return specs


def set_time_constants(controller, taus: dict) -> None:
    """``{name: (tau_release_s | None, tau_uptake_s | None)}`` into the running modulators
    (values judged before, by the parameter ranges; Modulators judges them again)."""
    mods = controller.cpg.mod.modulators
    for name, (release, uptake) in taus.items():
        mods.set_time_constants(name, release=release, uptake=uptake)


class CpgNode(ControllerNode):
    """The CPG node (quadruped, salamander): rhythm -> position or PD-effort commands."""

    DEFAULT_CONTROLLER = 'cpg'

    def __init__(self, node_name: str = 'cpg_node', **kwargs):
        self._mod_params = None         # NodeParams of the modulation parameters, once declared
        self._mod_pending = None
        self._sync_due = False
        self._syncing = False
        self.mod_stats = {'received': 0, 'accepted': 0, 'refused': 0, 'last_refusal_reason': None}
        super().__init__(node_name, **kwargs)
        from std_msgs.msg import Float64MultiArray

        from neuro_locomotion import graph
        self._mod_sub = self.create_subscription(Float64MultiArray, graph.NEUROMODULATORS,
                                                 self._on_modulators, self._qos)

    # ------------------------------------------------------------------ modulation parameters
    def _modulated(self, controller=None) -> bool:
        c = self.controller if controller is None else controller
        return bool(getattr(c, 'modulated', False))

    def _prepare(self, controller) -> None:
        if not self._modulated(controller):
            return
        if self._mod_params is None:
            from neuro_locomotion.ros_params import NodeParams
            self._mod_params = NodeParams(self, modulation_specs(controller))
        set_time_constants(controller, self._taus(
            {s.name: self.get_parameter(s.name).value for s in self._mod_params.specs}))

    def _taus(self, values: dict) -> dict:
        taus: dict = {}
        for key, value in values.items():
            if key.startswith(PREFIX) and key.endswith(('.tau_release_s', '.tau_uptake_s')):
                name, which = key[len(PREFIX):].rsplit('.', 1)
                pair = taus.setdefault(name, [None, None])
                pair[0 if which == 'tau_release_s' else 1] = value
        return {k: tuple(v) for k, v in taus.items()}

    def _rebuild_names(self) -> tuple:
        # modulated: a gait is a command (the gait table's levels), not a rebuild
        return ('drive',) if self._modulated() else ('gait', 'drive')

    def _judge_more(self, parameters, controller) -> None:
        from neuro_locomotion.ros_params import plain
        self._mod_pending = None
        if self._syncing:
            return
        values = {p.name: plain(p.value) for p in parameters}
        mine = {k: v for k, v in values.items() if k.startswith(PREFIX) or k == 'speed_mps'}
        gait = values.get('gait') if self._modulated(controller) else None
        if not mine and not gait:
            return
        if not self._modulated(controller):
            raise ConfigError(f'{sorted(mine)} need the modulated network '
                              '(spiking.modulated: true)')
        if gait and gait not in controller.gait_names:
            raise ConfigError(f'unknown gait {gait!r}; choose one of {controller.gait_names}')
        names = set(controller.cpg.mod.modulators.names)
        targets = {}
        for key, value in mine.items():
            if key == 'speed_mps':
                if value:
                    controller.nm.speed_targets(value)          # ConfigError outside the table
                continue
            name, _, field = key[len(PREFIX):].rpartition('.')
            if name not in names:
                raise ConfigError(f'unknown modulator {name!r}; have {sorted(names)}')
            if not isinstance(value, float) or not math.isfinite(value):
                raise ConfigError(f'{key}: {value!r} is not a finite number')
            if field == 'target':
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(f'{key}: {value} outside [0, 1]')
                targets[name] = value
            elif not TAU_MIN_S <= value <= TAU_MAX_S:
                raise ConfigError(f'{key}: {value} s outside [{TAU_MIN_S}, {TAU_MAX_S}] s')
        self._mod_pending = {'gait': gait, 'speed': mine.get('speed_mps'), 'targets': targets,
                             'taus': self._taus(mine)}

    def _apply_more(self, parameters) -> None:
        pending, self._mod_pending = self._mod_pending, None
        if pending is None or self._syncing or not self._modulated():
            return
        ctrl = self.controller
        set_time_constants(ctrl, pending['taus'])
        # order: the gait's levels, then the speed's targets, then explicit targets (they win);
        # a gait alone is timed as in a schedule (the transitions table's release phase)
        if pending['gait']:
            alone = not (pending['speed'] or pending['targets'])
            ctrl.command_gait(pending['gait'], self._last_stamp, timed=alone)
        if pending['speed']:
            ctrl.command_speed(pending['speed'])
        if pending['targets']:
            ctrl.command_modulators(pending['targets'])
        self._sync_due = bool(pending['gait'] or pending['speed'])
        self.get_logger().info('modulator targets ' + ', '.join(
            f'{k} {v:.3g}' for k, v in self._targets().items()))

    def _targets(self) -> dict:
        mods = self.controller.cpg.mod.modulators
        return {n: float(x) for n, x in zip(mods.names, mods.target)}

    def _sync_targets(self) -> None:
        """Write the targets in force back into the target parameters (never from inside a
        parameter callback: a nested set_parameters would clobber the outer batch)."""
        from rclpy.parameter import Parameter
        self._sync_due = False
        if self._mod_params is None or not self._modulated():
            return
        if self.controller.gait_change_pending:      # written back once released
            self._sync_due = True
            return
        changed = [Parameter(f'{PREFIX}{n}.target', value=v) for n, v in self._targets().items()
                   if self.get_parameter(f'{PREFIX}{n}.target').value != v]
        if not changed:
            return
        self._syncing = True
        try:
            self.set_parameters(changed)
        finally:
            self._syncing = False

    def _after_reset(self) -> None:
        """A reset restarts the concentrations at the gait's levels; the targets in force (the
        target parameters) are then commanded again."""
        if self._mod_params is None or not self._modulated():
            return
        self.controller.command_modulators({
            n: self.get_parameter(f'{PREFIX}{n}.target').value
            for n in self.controller.cpg.mod.modulators.names})

    # ------------------------------------------------------------------ topic
    def _on_modulators(self, msg) -> None:
        from neuro_locomotion import graph
        from neuro_locomotion import ros_convert as c
        self.mod_stats['received'] += 1
        ctrl = self.controller
        try:
            if ctrl is None:
                raise ConfigError('the controller is being built')
            if not self._modulated(ctrl):
                raise ConfigError('needs the modulated network (spiking.modulated: true)')
            ctrl.command_modulators(c.modulator_levels(msg))
        except (ValueError, ConfigError) as error:     # ConfigError is a ValueError
            self.mod_stats['refused'] += 1
            self.mod_stats['last_refusal_reason'] = str(error)
            self._warn('modulators', f'{graph.NEUROMODULATORS} refused: {error}')
            return
        self.mod_stats['accepted'] += 1
        self._sync_targets()

    def _on_joints(self, msg) -> None:
        super()._on_joints(msg)
        if self._sync_due:
            self._sync_targets()

    # ------------------------------------------------------------------ outputs
    def _state(self) -> dict | None:
        state = super()._state()
        if state is not None and self._modulated():
            state.pop('modulators', None)
            mods = self.controller.cpg.mod.modulators
            for n, c, t in zip(mods.names, mods.c, mods.target):
                state[f'concentration.{n}'] = float(c)
                state[f'target.{n}'] = float(t)
        return state

    def diagnostics(self) -> dict:
        d = super().diagnostics()
        d['modulators'] = dict(self.mod_stats)
        if self._modulated():
            mods = self.controller.cpg.mod.modulators
            d['modulators'].update({'concentrations': mods.as_dict(), 'targets': self._targets()})
        return d

    def _publish_diagnostics(self) -> None:
        if self._sync_due:
            self._sync_targets()
        super()._publish_diagnostics()


def main(args=None) -> int:
    return _main(args, CpgNode, 'cpg_node')


if __name__ == '__main__':
    sys.exit(main())
