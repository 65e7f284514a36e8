"""Import pybullet without its 'pybullet build time' banner on stderr (it breaks one-line errors)."""
import os
import sys


def import_pybullet_quietly():
    if 'pybullet' in sys.modules:
        return sys.modules['pybullet']
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1), os.dup2(devnull, 2)
        import pybullet
    finally:
        os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        os.close(devnull), os.close(saved[0]), os.close(saved[1])
    return pybullet
