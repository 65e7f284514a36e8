"""Where the package's data (config/, urdf/, launch/) lives.

Installed (pip or colcon), the data is under ``share/neuro_locomotion`` and found through the
ament index (``AMENT_PREFIX_PATH``); in a source checkout it is next to the Python packages.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE = 'neuro_locomotion'
ROBOTS = ('quadruped', 'salamander', 'human')
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """The directory holding config/, urdf/ and launch/."""
    if (_SOURCE_ROOT / 'package.xml').is_file() and (_SOURCE_ROOT / 'config').is_dir():
        return _SOURCE_ROOT
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # ament index absent or AMENT_PREFIX_PATH unset: try the interpreter prefix
        import sys
        candidate = Path(sys.prefix) / 'share' / PACKAGE
        if candidate.is_dir():
            return candidate
        raise FileNotFoundError(
            f'cannot find the {PACKAGE} share directory; set AMENT_PREFIX_PATH '
            f'(currently {os.environ.get("AMENT_PREFIX_PATH")!r}) to the install prefix')


def config_file(robot: str) -> Path:
    return share_dir() / 'config' / f'{robot}.yaml'


def urdf_file(name: str) -> Path:
    return share_dir() / 'urdf' / (name if name.endswith('.urdf') else f'{name}.urdf')
