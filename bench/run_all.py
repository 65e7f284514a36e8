"""Run every benchmark in bench/ one after the other (each prints its own table)."""
import subprocess
import sys
from pathlib import Path

here = Path(__file__).parent
for script in sorted(here.glob('bench_*.py')):
    print(f'\n## {script.name}', flush=True)
    subprocess.run([sys.executable, str(script)], check=False)
