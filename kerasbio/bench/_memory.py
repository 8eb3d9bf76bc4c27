"""Peak memory of work run in a fresh Python process (its peak resident set size)."""

import os
import subprocess
import sys

REPORT_PEAK = """
import resource, sys
try:  # Linux: the high-water mark of this program's memory since exec
    with open("/proc/self/status") as status:
        peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except OSError:  # elsewhere (macOS: bytes)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(peak_kib)
"""


def peak_rss_mib(code):
    """Run `code` (Python source) in a child interpreter; return the child's peak RSS in MiB.

    The child reports its own high-water mark (`VmHWM` on Linux): `ru_maxrss` would include
    the parent's memory, shared by the child between fork and exec. A child that fails raises
    `RuntimeError` with its standard error.
    """
    child = subprocess.run([sys.executable, "-c", code + "\n" + REPORT_PEAK],
                           capture_output=True, text=True,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if child.returncode != 0:
        raise RuntimeError(f"The benchmark child failed:\n{child.stderr}")
    return float(child.stdout.split()[-1]) / 1024
