"""Parameter schemas: ranges, types, whole-batch judgement, ROS-format files."""
import math

import pytest

from neuro_locomotion.params import ConfigError, ParamSet, ParamSpec, node_params, read_ros_params

SPECS = [
    ParamSpec('gain', 1.0, 'a gain', '1', min=0.0, max=10.0),
    ParamSpec('mode', 'a', 'a mode', choices=('a', 'b')),
    ParamSpec('posture', [0.0, 0.0], 'angles', 'rad', min=-3.2, max=3.2, length=2),
    ParamSpec('steps', 3, 'a count', min=1, max=100),
]


def test_defaults_and_valid_batch():
    params = ParamSet(SPECS)
    assert params['gain'] == 1.0
    params.apply({'gain': 2, 'posture': [0.1, -0.2]})
    assert params['gain'] == 2.0 and isinstance(params['gain'], float)
    assert params['posture'] == [0.1, -0.2]


@pytest.mark.parametrize('name,value,words', [
    ('gain', math.nan, 'not finite'),
    ('gain', math.inf, 'not finite'),
    ('gain', -1.0, 'below the minimum'),
    ('gain', 11.0, 'above the maximum'),
    ('gain', 'x', 'expected a number'),
    ('mode', 'c', 'not one of'),
    ('posture', [0.0], 'expected 2 values'),
    ('posture', [0.0, math.nan], 'not finite'),
    ('steps', 2.5, 'integer'),
    ('nonsense', 1, 'unknown parameter'),
])
def test_bad_values_refused_with_reason(name, value, words):
    params = ParamSet(SPECS)
    with pytest.raises(ConfigError, match=words):
        params.apply({name: value})


def test_batch_is_all_or_nothing():
    params = ParamSet(SPECS)
    with pytest.raises(ConfigError):
        params.apply({'gain': 5.0, 'mode': 'zzz'})
    assert params['gain'] == 1.0  # the valid half was not applied


def test_ros_param_file(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text('/**:\n  ros__parameters:\n    gain: 3.0\n'
                    'node:\n  ros__parameters:\n    posture: [1.0, 2.0]\n    use_sim_time: true\n')
    assert read_ros_params(path)['node']['posture'] == [1.0, 2.0]
    params = node_params(path, 'node', SPECS)
    assert params['gain'] == 3.0 and params['posture'] == [1.0, 2.0]


@pytest.mark.parametrize('text,words', [
    ('node: [1, 2', 'invalid YAML'),
    ('- a\n- b\n', 'expected a mapping'),
    ('node:\n  gain: 1\n', 'no ros__parameters'),
])
def test_malformed_files(tmp_path, text, words):
    path = tmp_path / 'bad.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        read_ros_params(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match='not found'):
        read_ros_params(tmp_path / 'nope.yaml')


def test_every_yaml_loader_refuses_missing_and_malformed_files_in_one_line(tmp_path):
    """One reader (params.read_yaml) behind the parameter, network, template,
    neuromodulation and MultiCPG loaders: the same one-line reasons."""
    from cpg_controller.gait_networks import load_template
    from cpg_controller.multicpg import load_multicpg
    from cpg_controller.network import load_network
    from cpg_controller.neuromodulation import load_neuromodulation
    from neuro_locomotion.params import read_yaml
    bad = tmp_path / 'bad.yaml'
    bad.write_text('a: [1, 2\n')
    for load, what in [(read_yaml, 'file'), (load_network, 'network file'),
                       (load_template, 'network template'),
                       (load_neuromodulation, 'neuromodulation file'),
                       (lambda p: load_multicpg(path=p), 'MultiCPG file')]:
        with pytest.raises(ConfigError, match=f'{what} not found') as missing:
            load(tmp_path / 'missing.yaml')
        with pytest.raises(ConfigError, match='invalid YAML') as malformed:
            load(bad)
        assert '\n' not in str(missing.value) and '\n' not in str(malformed.value)
