"""The three bodies: xacro sources match the checked-in URDFs, and the URDFs keep their conventions.

Real PyBullet in DIRECT mode; no mocks.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pybullet = pytest.importorskip('pybullet')
pytest.importorskip('xacro')
from pybullet_utils.bullet_client import BulletClient  # noqa: E402

from locomotion_sim import urdf_build  # noqa: E402
from neuro_locomotion.paths import urdf_file  # noqa: E402

LEGS = ('lf', 'rf', 'lh', 'rh')
EXPECTED_ACTUATED = {
    'quadruped': [f'{leg}_{j}' for leg in LEGS for j in ('hip_abad', 'hip_flex', 'knee')],
}
EXPECTED_FEET = {
    'quadruped': [f'{leg}_foot' for leg in LEGS],
}
# number of joints of each type
EXPECTED_JOINT_TYPES = {
    'quadruped': {'revolute': 12, 'fixed': 4},
}
BODIES = tuple(EXPECTED_ACTUATED)

QUADRUPED_STAND = {'hip_abad': 0.0, 'hip_flex': 0.8, 'knee': -1.5}
QUADRUPED_STAND_HEIGHT = 0.3123  # trunk origin above the ground, feet at z=0


def parse(name):
    return ET.parse(urdf_file(name)).getroot()


def actuated(root):
    (block,) = root.findall('ros2_control')
    return [j.get('name') for j in block.findall('joint')]


def volume(geometry):
    (shape,) = list(geometry)
    if shape.tag == 'box':
        x, y, z = map(float, shape.get('size').split())
        return x * y * z
    if shape.tag == 'cylinder':
        return math.pi * float(shape.get('radius')) ** 2 * float(shape.get('length'))
    if shape.tag == 'sphere':
        return 4.0 / 3.0 * math.pi * float(shape.get('radius')) ** 3
    raise AssertionError(f'collision geometry must be a primitive, got <{shape.tag}>')


def total_mass(root):
    return sum(float(link.find('inertial/mass').get('value'))
               for link in root.findall('link') if link.find('inertial') is not None)


class Loaded:
    def __init__(self, name):
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self.client.setGravity(0, 0, -9.81)
        self.plane = self.client.createMultiBody(0, self.client.createCollisionShape(pybullet.GEOM_PLANE))
        self.body = self.client.loadURDF(str(urdf_file(name)), [0, 0, 1.0],
                                         flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
        c, b = self.client, self.body
        infos = [c.getJointInfo(b, i) for i in range(c.getNumJoints(b))]
        self.joints = {info[1].decode(): info[0] for info in infos}
        self.links = {info[12].decode(): info[0] for info in infos}
        self.links[c.getBodyInfo(b)[0].decode()] = -1

    def mass(self):
        c, b = self.client, self.body
        return sum(c.getDynamicsInfo(b, i)[0] for i in range(-1, c.getNumJoints(b)))


@pytest.fixture(scope='module', params=BODIES)
def body(request):
    loaded = Loaded(request.param)
    yield request.param, parse(request.param), loaded
    loaded.client.disconnect()


@pytest.mark.parametrize('name', BODIES)
def test_checked_in_urdf_is_generated_from_xacro(name):
    assert urdf_file(name).read_text(encoding='utf-8') == urdf_build.render(name), (
        f'urdf/{name}.urdf is stale: run `python -m locomotion_sim.urdf_build`')


def test_build_check_passes():
    assert urdf_build.main(['--check']) == 0


def test_loads_with_ros2_control_and_joint_order(body):
    name, root, loaded = body
    assert root.find('ros2_control').get('type') == 'system'
    assert actuated(root) == EXPECTED_ACTUATED[name]
    for joint in root.find('ros2_control').findall('joint'):
        assert [i.get('name') for i in joint.findall('command_interface')] == ['position', 'effort']
        assert [i.get('name') for i in joint.findall('state_interface')] == ['position', 'velocity', 'effort']
    assert set(EXPECTED_ACTUATED[name]) <= set(loaded.joints)
    types = {}
    for joint in root.findall('joint'):
        types[joint.get('type')] = types.get(joint.get('type'), 0) + 1
    assert types == EXPECTED_JOINT_TYPES[name]
    assert len(loaded.joints) == sum(types.values())


def test_actuated_limits(body):
    name, root, loaded = body
    joints = {j.get('name'): j for j in root.findall('joint')}
    for jname in actuated(root):
        limit = joints[jname].find('limit')
        lo, hi, eff, vel = (float(limit.get(k)) for k in ('lower', 'upper', 'effort', 'velocity'))
        assert all(math.isfinite(v) for v in (lo, hi, eff, vel)), jname
        assert lo < hi and eff > 0 and vel > 0, jname
        info = loaded.client.getJointInfo(loaded.body, loaded.joints[jname])
        assert info[8:12] == pytest.approx((lo, hi, eff, vel))


def test_feet_are_fixed_sphere_links(body):
    name, root, loaded = body
    links = {link.get('name'): link for link in root.findall('link')}
    parents = {j.find('child').get('link'): j for j in root.findall('joint')}
    for foot in EXPECTED_FEET[name]:
        assert foot in links and foot in loaded.links
        assert parents[foot].get('type') == 'fixed'
        (collision,) = links[foot].findall('collision')
        assert collision.find('geometry/sphere') is not None


def test_primitive_collisions_and_physical_inertias(body):
    name, root, loaded = body
    assert root.find('.//mesh') is None
    for link in root.findall('link'):
        for collision in link.findall('collision'):
            assert volume(collision.find('geometry')) > 0
        inertial = link.find('inertial')
        if inertial is None:  # only a massless fixed base may go without
            assert link.get('name') == 'world'
            continue
        assert float(inertial.find('mass').get('value')) > 0
        i = {k: float(v) for k, v in inertial.find('inertia').attrib.items()}
        matrix = np.array([[i['ixx'], i['ixy'], i['ixz']],
                           [i['ixy'], i['iyy'], i['iyz']],
                           [i['ixz'], i['iyz'], i['izz']]])
        principal = np.linalg.eigvalsh(matrix)
        assert principal.min() > 0, link.get('name')
        a, b, c = principal
        assert a + b >= c * (1 - 1e-9), (link.get('name'), principal)
        # PyBullet reads the same inertia when asked to (URDF_USE_INERTIA_FROM_FILE)
        local = loaded.client.getDynamicsInfo(loaded.body, loaded.links[link.get('name')])[2]
        assert sorted(local) == pytest.approx(sorted(principal), rel=1e-6, abs=1e-12)


def test_quadruped_mass_and_geometry():
    root = parse('quadruped')
    loaded = Loaded('quadruped')
    try:
        assert 11.5 <= total_mass(root) <= 12.5
        assert loaded.mass() == pytest.approx(total_mass(root))
        (trunk,) = [link for link in root.findall('link') if link.get('name') == 'trunk']
        size = [float(v) for v in trunk.find('collision/geometry/box').get('size').split()]
        assert size == pytest.approx([0.27, 0.19, 0.11], abs=0.01)
        joints = {j.get('name'): j for j in root.findall('joint')}
        for leg in LEGS:
            for jname in (f'{leg}_knee', f'{leg}_foot_fixed'):  # thigh and shank lengths
                xyz = [float(v) for v in joints[jname].find('origin').get('xyz').split()]
                assert xyz == pytest.approx([0, 0, -0.20])
            assert joints[f'{leg}_hip_abad'].find('axis').get('xyz') == '1 0 0'
            assert joints[f'{leg}_hip_flex'].find('axis').get('xyz') == '0 1 0'
    finally:
        loaded.client.disconnect()


def test_quadruped_stands_on_four_feet():
    loaded = Loaded('quadruped')
    c, b = loaded.client, loaded.body
    try:
        names = EXPECTED_ACTUATED['quadruped']
        targets = [QUADRUPED_STAND[n[3:]] for n in names]
        for n, q in zip(names, targets):
            c.resetJointState(b, loaded.joints[n], q)
        c.resetBasePositionAndOrientation(b, [0, 0, QUADRUPED_STAND_HEIGHT + 0.005], [0, 0, 0, 1])
        # the documented height puts the foot spheres on z = 0
        for leg in LEGS:
            foot = c.getLinkState(b, loaded.links[f'{leg}_foot'], computeForwardKinematics=True)[4]
            assert foot[2] - 0.02 == pytest.approx(0.005, abs=1e-3)
        c.setJointMotorControlArray(b, [loaded.joints[n] for n in names], pybullet.POSITION_CONTROL,
                                    targetPositions=targets, forces=[33.5] * len(names))
        for _ in range(240):  # 1 s at the default 240 Hz
            c.stepSimulation()
        touching = {c.getJointInfo(b, cp[3])[12].decode() for cp in c.getContactPoints(b, loaded.plane)
                    if cp[3] >= 0}
        assert touching == set(EXPECTED_FEET['quadruped'])
        position, orientation = c.getBasePositionAndOrientation(b)
        assert position[2] == pytest.approx(QUADRUPED_STAND_HEIGHT, abs=0.01)
        assert abs(c.getEulerFromQuaternion(orientation)[1]) < 0.05
        normal = sum(cp[9] for cp in c.getContactPoints(b, loaded.plane))
        assert normal == pytest.approx(loaded.mass() * 9.81, rel=0.05)
    finally:
        c.disconnect()
