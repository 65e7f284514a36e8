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
SALAMANDER_SEGMENTS = 8
EXPECTED_ACTUATED = {
    'quadruped': [f'{leg}_{j}' for leg in LEGS for j in ('hip_abad', 'hip_flex', 'knee')],
    'salamander': ([f'body_{i}' for i in range(1, SALAMANDER_SEGMENTS + 1)]
                   + [f'{leg}_limb_{j}' for leg in LEGS for j in ('protraction', 'elevation')]),
    'human': [f'{side}_{j}' for side in 'lr' for j in ('hip', 'knee', 'ankle')],
}
EXPECTED_FEET = {
    'quadruped': [f'{leg}_foot' for leg in LEGS],
    'salamander': [f'{leg}_foot' for leg in LEGS],
    'human': ['l_heel', 'l_ball', 'r_heel', 'r_ball'],
}
EXPECTED_BASE = {'quadruped': 'trunk', 'salamander': 'head', 'human': 'world'}
# number of joints of each type
EXPECTED_JOINT_TYPES = {
    'quadruped': {'revolute': 12, 'fixed': 4},
    'salamander': {'revolute': SALAMANDER_SEGMENTS + 8, 'fixed': 4},
    'human': {'prismatic': 2, 'revolute': 7, 'fixed': 4},
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
        # without URDF_USE_INERTIA_FROM_FILE PyBullet recomputes inertias from the collision shapes
        self.body = self.client.loadURDF(str(urdf_file(name)), [0, 0, 0.0 if name == 'human' else 1.0],
                                         useFixedBase=name == 'human',
                                         flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
        c, b = self.client, self.body
        infos = [c.getJointInfo(b, i) for i in range(c.getNumJoints(b))]
        self.joints = {info[1].decode(): info[0] for info in infos}
        self.links = {info[12].decode(): info[0] for info in infos}
        self.base = c.getBodyInfo(b)[0].decode()
        self.links[self.base] = -1

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
    assert loaded.base == EXPECTED_BASE[name]
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


# ----------------------------------------------------------------------------- salamander

def link_position(loaded, link):
    c, b = loaded.client, loaded.body
    if loaded.links[link] < 0:
        return np.array(c.getBasePositionAndOrientation(b)[0])
    return np.array(c.getLinkState(b, loaded.links[link], computeForwardKinematics=True)[4])


def test_salamander_density_shape_and_girdles():
    root = parse('salamander')
    loaded = Loaded('salamander')
    c, b = loaded.client, loaded.body
    try:
        links = root.findall('link')
        volumes = sum(volume(col.find('geometry')) for link in links for col in link.findall('collision'))
        assert all(link.find('collision') is not None for link in links)
        assert 900 <= total_mass(root) / volumes <= 1000
        assert loaded.mass() == pytest.approx(total_mass(root))
        joints = {j.get('name'): j for j in root.findall('joint')}
        for i in range(1, SALAMANDER_SEGMENTS + 1):
            assert joints[f'body_{i}'].find('axis').get('xyz') in ('0 0 1', '0 0 -1')
        for leg in LEGS:
            assert joints[f'{leg}_limb_protraction'].find('axis').get('xyz') in ('0 0 1', '0 0 -1')
            assert joints[f'{leg}_limb_elevation'].find('axis').get('xyz') in ('1 0 0', '-1 0 0')
        # straight body along x at zero angles: length from the snout to the tail tip
        chain = ['head'] + [f'segment_{i}' for i in range(1, SALAMANDER_SEGMENTS + 1)]
        boxes = [c.getAABB(b, loaded.links[name]) for name in chain]
        snout = max(box[1][0] for box in boxes)
        length = snout - min(box[0][0] for box in boxes)
        assert 0.8 <= length <= 1.0
        head_length = boxes[0][1][0] - boxes[0][0][0]
        for leg in ('lf', 'rf'):  # pectoral girdle just behind the head
            s = snout - link_position(loaded, f'{leg}_shoulder')[0]
            assert head_length < s < 0.25 * length
        for leg in ('lh', 'rh'):  # pelvic girdle at 40-50 % of the body length
            s = snout - link_position(loaded, f'{leg}_shoulder')[0]
            assert 0.40 * length <= s <= 0.50 * length
        # the sign conventions of the limbs: positive protraction = forward, positive elevation = up
        for leg in LEGS:
            foot0 = link_position(loaded, f'{leg}_foot')
            c.resetJointState(b, loaded.joints[f'{leg}_limb_protraction'], 0.3)
            assert link_position(loaded, f'{leg}_foot')[0] > foot0[0] + 0.02
            c.resetJointState(b, loaded.joints[f'{leg}_limb_protraction'], 0.0)
            c.resetJointState(b, loaded.joints[f'{leg}_limb_elevation'], 0.3)
            assert link_position(loaded, f'{leg}_foot')[2] > foot0[2] + 0.02
            c.resetJointState(b, loaded.joints[f'{leg}_limb_elevation'], 0.0)
    finally:
        c.disconnect()


SALAMANDER_ELEVATION = -0.25
SALAMANDER_HEAD_HEIGHT = 0.0367  # head (base) origin above the ground, feet at z=0


def test_salamander_rests_on_its_feet():
    loaded = Loaded('salamander')
    c, b = loaded.client, loaded.body
    try:
        names = EXPECTED_ACTUATED['salamander']
        targets = [SALAMANDER_ELEVATION if n.endswith('elevation') else 0.0 for n in names]
        for n, q in zip(names, targets):
            c.resetJointState(b, loaded.joints[n], q)
        c.resetBasePositionAndOrientation(b, [0, 0, SALAMANDER_HEAD_HEIGHT + 0.002], [0, 0, 0, 1])
        efforts = [c.getJointInfo(b, loaded.joints[n])[10] for n in names]
        c.setJointMotorControlArray(b, [loaded.joints[n] for n in names], pybullet.POSITION_CONTROL,
                                    targetPositions=targets, forces=efforts)
        for _ in range(240):
            c.stepSimulation()
        touching = {c.getJointInfo(b, cp[3])[12].decode() if cp[3] >= 0 else 'head'
                    for cp in c.getContactPoints(b, loaded.plane)}
        assert touching == set(EXPECTED_FEET['salamander'])
        assert c.getBasePositionAndOrientation(b)[0][2] == pytest.approx(SALAMANDER_HEAD_HEIGHT, abs=0.005)
        trunk = range(1, SALAMANDER_SEGMENTS + 1)
        belly = min(c.getAABB(b, loaded.links[f'segment_{i}'])[0][2] for i in trunk)
        assert 0.003 < belly < 0.02
    finally:
        c.disconnect()


# ----------------------------------------------------------------------------- human

GH2010 = {  # segment: (length, mass, inertia about y, COM distance from the distal joint)
    'thigh': (0.50, 8.5, 0.15, 0.30),
    'shank': (0.50, 3.5, 0.05, 0.30),
    'hat': (0.80, 53.5, 3.0, 0.35),  # COM from the hip
}
DEG = math.pi / 180


def inner_angles(q_hip, q_knee, q_ankle):
    """URDF joint angles -> GH2010 inner angles (docs/bodies.md)."""
    return math.pi + q_hip, math.pi - q_knee, math.pi / 2 + q_ankle


def test_human_matches_gh2010():
    root = parse('human')
    loaded = Loaded('human')
    c, b = loaded.client, loaded.body
    try:
        assert total_mass(root) == pytest.approx(80.0, abs=0.1)
        assert loaded.mass() == pytest.approx(total_mass(root))
        assert c.getDynamicsInfo(b, -1)[0] == 0.0  # massless fixed base
        joints = {j.get('name'): j for j in root.findall('joint')}
        for name, kind, axis in (('root_x', 'prismatic', '1 0 0'), ('root_z', 'prismatic', '0 0 1'),
                                 ('root_pitch', 'revolute', '0 1 0')):
            assert joints[name].get('type') == kind and joints[name].find('axis').get('xyz') == axis
            assert name not in actuated(root)
        limits = {n: tuple(float(joints[n].find('limit').get(k)) for k in ('lower', 'upper'))
                  for n in ('root_x', 'root_z', 'root_pitch')}
        assert limits == {'root_x': (-1000, 1000), 'root_z': (0, 3),
                          'root_pitch': pytest.approx((-math.pi, math.pi))}
        for name in ('root_x_link', 'root_z_link'):
            mass = c.getDynamicsInfo(b, loaded.links[name])[0]
            assert 0 < mass <= 1e-3
        for name in EXPECTED_ACTUATED['human']:
            assert joints[name].find('axis').get('xyz') == '0 1 0'
            assert c.getJointInfo(b, loaded.joints[name])[10] == pytest.approx(500, rel=0.2)

        dyn = {name: c.getDynamicsInfo(b, loaded.links[name]) for name in
               ('hat', 'l_thigh', 'l_shank', 'l_foot', 'r_thigh', 'r_shank', 'r_foot')}
        assert dyn['hat'][0] == 53.5 and dyn['hat'][2][1] == pytest.approx(3.0)
        assert dyn['hat'][3] == pytest.approx((0, 0, 0.35))  # hat frame at the hip, COM above it
        for side in 'lr':
            # zero pose: straight, foot horizontal; world origin 0, so root_z is the hip height
            hip = link_position(loaded, f'{side}_thigh')
            knee = link_position(loaded, f'{side}_shank')
            ankle = link_position(loaded, f'{side}_foot')
            heel = link_position(loaded, f'{side}_heel')
            ball = link_position(loaded, f'{side}_ball')
            assert hip[[0, 2]] == pytest.approx([0, 0], abs=1e-6)
            assert hip[2] - knee[2] == pytest.approx(0.50) and knee[2] - ankle[2] == pytest.approx(0.50)
            assert ball - heel == pytest.approx([0.20, 0, 0], abs=1e-6)
            assert ball - ankle == pytest.approx([0.16, 0, 0], abs=1e-6)
            for segment in ('thigh', 'shank'):
                length, mass, inertia, com = GH2010[segment]
                info = dyn[f'{side}_{segment}']
                assert info[0] == mass and info[2][1] == pytest.approx(inertia)
                assert info[3] == pytest.approx((0, 0, -(length - com)))  # frame at the proximal joint
            assert dyn[f'{side}_foot'][0] == 1.25 and dyn[f'{side}_foot'][2][1] == pytest.approx(0.005)
            # foot COM 0.14 m from the ball, i.e. 0.02 m in front of the ankle
            assert dyn[f'{side}_foot'][3] == pytest.approx((0.16 - 0.14, 0, 0))
            # sign conventions: positive hip = extension (knee moves back), positive knee = flexion
            # (ankle moves back), positive ankle = plantarflexion (ball moves down)
            for joint, link, axis, sign in (('hip', 'shank', 0, -1), ('knee', 'foot', 0, -1),
                                            ('ankle', 'ball', 2, -1)):
                before = link_position(loaded, f'{side}_{link}')[axis]
                c.resetJointState(b, loaded.joints[f'{side}_{joint}'], 0.2)
                assert sign * (link_position(loaded, f'{side}_{link}')[axis] - before) > 0.01
                c.resetJointState(b, loaded.joints[f'{side}_{joint}'], 0.0)
        # HAT COM in the world 0.35 m above the hip at zero pitch
        c.resetJointState(b, loaded.joints['root_z'], 1.0)
        assert c.getLinkState(b, loaded.links['hat'])[0][2] == pytest.approx(1.35)
    finally:
        c.disconnect()


HUMAN_IC = {'l_hip': -5 * DEG, 'l_knee': 5 * DEG, 'l_ankle': -5 * DEG,     # stance 175/175/85 deg
            'r_hip': -40 * DEG, 'r_knee': 5 * DEG, 'r_ankle': 0.0}         # swing 140/175/90 deg
HUMAN_IC_PITCH = 5 * DEG                                                    # stance foot flat
HUMAN_IC_HIP_HEIGHT = 0.5 + 0.5 * math.cos(5 * DEG)                         # foot line at z = 0


def test_human_initial_condition_and_standing():
    assert inner_angles(HUMAN_IC['l_hip'], HUMAN_IC['l_knee'], HUMAN_IC['l_ankle']) == pytest.approx(
        (175 * DEG, 175 * DEG, 85 * DEG))
    assert inner_angles(HUMAN_IC['r_hip'], HUMAN_IC['r_knee'], HUMAN_IC['r_ankle']) == pytest.approx(
        (140 * DEG, 175 * DEG, 90 * DEG))
    loaded = Loaded('human')
    c, b = loaded.client, loaded.body
    try:
        for name, q in HUMAN_IC.items():
            c.resetJointState(b, loaded.joints[name], q)
        c.resetJointState(b, loaded.joints['root_pitch'], HUMAN_IC_PITCH)
        c.resetJointState(b, loaded.joints['root_z'], HUMAN_IC_HIP_HEIGHT)
        heel, ball = link_position(loaded, 'l_heel'), link_position(loaded, 'l_ball')
        assert heel[2] == pytest.approx(0, abs=1e-6) and ball[2] == pytest.approx(0, abs=1e-6)
        assert link_position(loaded, 'r_heel')[2] > 0.1  # swing foot clear of the ground

        # quiet standing, legs held straight: the four contact spheres carry the body weight
        idx = [loaded.joints[n] for n in loaded.joints if not n.endswith('_fixed')]
        c.setJointMotorControlArray(b, idx, pybullet.VELOCITY_CONTROL, forces=[0] * len(idx))
        for name in loaded.joints:
            if not name.endswith('_fixed'):
                c.resetJointState(b, loaded.joints[name], 0.0)
        c.resetJointState(b, loaded.joints['root_z'], 1.0 + 0.02)
        legs = [loaded.joints[n] for n in EXPECTED_ACTUATED['human']]
        c.setJointMotorControlArray(b, legs, pybullet.POSITION_CONTROL, targetPositions=[0.0] * 6,
                                    forces=[500.0] * 6)
        c.setJointMotorControl2(b, loaded.joints['root_pitch'], pybullet.POSITION_CONTROL,
                                targetPosition=0.0, force=500.0)  # stand-in for the trunk reflex
        for _ in range(240):
            c.stepSimulation()
        contacts = c.getContactPoints(b, loaded.plane)
        touching = {c.getJointInfo(b, cp[3])[12].decode() for cp in contacts}
        assert touching == set(EXPECTED_FEET['human'])
        assert sum(cp[9] for cp in contacts) == pytest.approx(loaded.mass() * 9.81, rel=0.02)
        assert c.getJointState(b, loaded.joints['root_z'])[0] == pytest.approx(1.02, abs=0.005)
    finally:
        c.disconnect()
