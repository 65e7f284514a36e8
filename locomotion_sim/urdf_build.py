"""Generate the checked-in URDFs from their xacro sources.

``python -m locomotion_sim.urdf_build`` rewrites every ``urdf/<name>.urdf`` from
``urdf/<name>.urdf.xacro``; ``--check`` only compares and exits 1 naming each stale file.
The output is byte-for-byte reproducible: xacro's own banner (which holds the absolute input path)
is replaced by a fixed comment naming the source relative to the package share directory.
No ROS imports: xacro is used as a plain Python library.
"""
from __future__ import annotations

import argparse
import sys
import xml.dom.minidom
from pathlib import Path

from neuro_locomotion.paths import share_dir

BODIES = ('quadruped', 'salamander', 'human')


def urdf_dir() -> Path:
    return share_dir() / 'urdf'


def source_path(name: str) -> Path:
    return urdf_dir() / f'{name}.urdf.xacro'


def output_path(name: str) -> Path:
    return urdf_dir() / f'{name}.urdf'


def names() -> list[str]:
    """Every body that has a xacro source (the known ones first, in their usual order)."""
    found = sorted(p.name[:-len('.urdf.xacro')] for p in urdf_dir().glob('*.urdf.xacro'))
    return [n for n in BODIES if n in found] + [n for n in found if n not in BODIES]


def render(name: str) -> str:
    """The URDF text generated from ``urdf/<name>.urdf.xacro``."""
    import xacro  # imported lazily: only the build and the tests need it

    src = source_path(name)
    if not src.is_file():
        raise FileNotFoundError(f'no xacro source for {name!r}: {src}')
    doc = xacro.process_file(str(src))
    # drop the comments xacro puts before the root element (its banner names the absolute path)
    for node in list(doc.childNodes):
        if node.nodeType == node.COMMENT_NODE:
            doc.removeChild(node)
    banner = xml.dom.minidom.Comment(
        f' GENERATED FILE, do not edit: made by `python -m locomotion_sim.urdf_build` '
        f'from urdf/{src.name} ')
    doc.insertBefore(banner, doc.documentElement)
    text = doc.toprettyxml(indent='  ')
    return text if text.endswith('\n') else text + '\n'


def stale(name: str) -> bool:
    out = output_path(name)
    return not out.is_file() or out.read_text(encoding='utf-8') != render(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m locomotion_sim.urdf_build', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true',
                        help='do not write; exit 1 if a checked-in URDF differs from its source')
    parser.add_argument('bodies', nargs='*', help='bodies to build (default: all with a source)')
    args = parser.parse_args(argv)
    todo = args.bodies or names()
    bad = []
    for name in todo:
        text = render(name)
        out = output_path(name)
        current = out.read_text(encoding='utf-8') if out.is_file() else None
        if args.check:
            if current != text:
                bad.append(name)
                print(f'stale: {out} differs from what {source_path(name).name} generates '
                      f'(run `python -m locomotion_sim.urdf_build`)', file=sys.stderr)
        elif current != text:
            out.write_text(text, encoding='utf-8')
            print(f'wrote {out}')
        else:
            print(f'up to date: {out}')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
