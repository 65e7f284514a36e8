"""ament_python package definition for neuro_locomotion (works with colcon and with plain pip)."""
from glob import glob

from setuptools import setup

PACKAGE = 'neuro_locomotion'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=[PACKAGE, 'cpg_controller', 'reflex_modules', 'locomotion_sim'],
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
        ('share/' + PACKAGE + '/config/gaits', glob('config/gaits/*.yaml')),
        ('share/' + PACKAGE + '/config/networks', glob('config/networks/*.yaml')),
        ('share/' + PACKAGE + '/config/reflex', glob('config/reflex/*.yaml')),
        ('share/' + PACKAGE + '/urdf', glob('urdf/*.urdf') + glob('urdf/*.xacro')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='neuro_locomotion developers',
    maintainer_email='neuro_locomotion@example.org',
    description='Spiking CPGs, neuromodulation and reflex modules for legged robots on ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'neuroloco = neuro_locomotion.cli:main',
            'sim_node = locomotion_sim.node:main',
            'cpg_node = cpg_controller.node:main',
            'reflex_node = reflex_modules.node:main',
        ],
    },
)
