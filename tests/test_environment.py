"""The pip route and the conda route install the same pins; torch is pinned."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pip_requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return sorted(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def conda_pip_section():
    text = (ROOT / "environment.yml").read_text()
    section = text.split("- pip:", 1)[1]
    return sorted(re.findall(r"^\s+-\s+(\S+==\S+)\s*$", section, flags=re.M))


def test_environment_yml_installs_the_same_pins_as_requirements():
    assert conda_pip_section() == pip_requirements()


def test_every_requirement_is_pinned():
    unpinned = [r for r in pip_requirements() if "==" not in r]
    assert not unpinned, f"unpinned requirements: {unpinned}"


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert "torch==2.13.0" in pip_requirements()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m autograder test" in readme
    assert "python3 -m autograder test" in ci
