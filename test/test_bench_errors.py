"""The benchmark scripts added for issues 4, 5 and 6 refuse a bad file or value with one line naming
the script and the reason (exit status non-zero), not a traceback, before any long run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('args, words', [
    (['bench/bench_multirate_quality.py', '--params', '/nonexistent.yaml'],
     'bench_multirate_quality: parameter file not found'),
    (['bench/bench_servo_floor.py', '--duration', '-1'],
     'bench_servo_floor: duration must be a positive number'),
    (['bench/grf_transition.py', '/nonexistent.yaml', '12'],
     'grf_transition: parameter file not found'),
    (['bench/grf_transition.py', 'config/reflex/human_walk_robust.yaml', 'nan'],
     'duration must be a positive number'),
    (['bench/cma_mean_yaml.py', '/nonexistent', '/tmp/never-written.yaml'],
     'cma_mean_yaml: resume directory not found'),
    (['bench/bench_salamander_switch.py', '--times', '9:6:1'],
     'bench_salamander_switch.py: error: argument --times: bad switch times'),
    (['bench/bench_salamander_switch.py', '--after', 'nan'],
     '--after must be a positive number of seconds'),
    (['bench/bench_salamander_switch.py', '--template-seed', '-1'],
     '--template-seed must not be negative'),
    (['bench/bench_salamander_switch.py', '--json', '/nonexistent/out.json'],
     "--json: folder of '/nonexistent/out.json' not found"),
    (['bench/bench_salamander_switch.py', '--set', 'spiking.adapt'],
     "argument --set: expected name=value, got 'spiking.adapt'"),
    (['bench/bench_salamander_switch.py', '--set', 'spiking.adapt=nan'],
     "--set: controller cpg: spiking.adapt: expected a number, got 'nan'"),
    (['bench/bench_salamander_switch.py', '--set', 'spiking.flavour=1'],
     'spiking.flavour: unknown parameter'),
])
def test_bench_script_refuses_bad_input_in_one_line(args, words):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert words in out.stderr, out.stderr
    assert 'Traceback' not in out.stderr, out.stderr
