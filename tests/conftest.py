import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """Run `python3 -m autograder demo` once (as an instructor would) into a scratch build folder."""
    build = tmp_path_factory.mktemp("build")
    env = dict(os.environ, RNN_COURSE_BUILD=str(build), RNN_COURSE_USE_CURRENT_PYTHON="1")
    result = subprocess.run([sys.executable, "-m", "autograder", "demo", "--quiet"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build, result.stdout
