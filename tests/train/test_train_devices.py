import os
import subprocess
import sys
import time

import pytest

from sketchgen.train.devices import busy_cores, usable_cores


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_busy_cores_sees_a_process_spinning_now():
    before = busy_cores(0.5)
    if before > usable_cores() - 1:
        pytest.skip(f"the machine is already busy ({before:.1f} cores): a spinner would not show")
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 3: pass"])
    try:
        time.sleep(0.3)  # let it start
        during = busy_cores(0.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert during >= before + 0.5, (before, during)
    assert during <= usable_cores() + 1e-9
