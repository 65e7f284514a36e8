"""Test isolation: every test session gets its own ROS domain, discovery stays on localhost."""
import os
import random

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
if 'NEUROLOCO_TEST_DOMAIN' not in os.environ:
    # 1..101 is the range every DDS vendor accepts; pick one per pytest process.
    os.environ['NEUROLOCO_TEST_DOMAIN'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_DOMAIN_ID'] = os.environ['NEUROLOCO_TEST_DOMAIN']
