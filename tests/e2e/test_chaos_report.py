"""``celery -A worker chaos --report`` on a stand-in checkout: it runs the checkout's chaos
suite (a pytest process) and its scale benchmark (a Python process), and renders
docs/reliability.md from what they recorded. Rendering and judging records without running
anything is tests/unit/test_reliability.py's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from devtools.cli import chaos
from tests.reliabilitykit import SCALE

pytestmark = pytest.mark.e2e


CONFTEST = ("def pytest_addoption(parser):\n    parser.addoption('--chaos-rounds', type=int)\n"
            "def pytest_configure(config):\n"
            "    config.addinivalue_line('markers', 'chaos: x')\n")


def _checkout(root: Path, test: str, scale: str) -> Path:
    """A stand-in spsync checkout: a chaos suite of one test file and a scale benchmark."""
    for folder in ("tests/chaos", "docs", "benchmarks"):
        (root / folder).mkdir(parents=True)
    (root / "tests" / "chaos" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "chaos" / "test_one.py").write_text(test)
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "benchmarks" / "scale.py").write_text(scale)
    return root


def test_chaos_runs_the_suite_and_the_benchmarks_into_one_page(tmp_path: Path) -> None:
    """``celery -A worker chaos --report`` on a stand-in checkout: a one-test suite that
    records a scenario, and a scale benchmark that prints its JSON line."""
    _checkout(tmp_path, test=(
        "import json, os, pytest\n"
        "@pytest.mark.chaos\ndef test_one(request):\n"
        "    rounds = request.config.getoption('chaos_rounds')\n"
        "    with open(os.environ['SPSYNC_CHAOS_RESULTS'], 'a') as f:\n"
        "        f.write(json.dumps({'scenario': 'Stand-in', 'injected': 'nothing',\n"
        "            'checked': 'rounds', 'result': 'pass', 'figures': {'rounds': rounds}})"
        " + '\\n')\n"), scale=(
        f"import json, sys\nprint('progress', file=sys.stderr)\n"
        f"print(json.dumps({json.dumps(SCALE)} | {{'sellers': int(sys.argv[2])}}))\n"))
    result = CliRunner().invoke(chaos, ["--checkout", str(tmp_path), "--rounds", "4",
                                        "--soak-minutes", "0", "--scale-sellers", "77",
                                        "--report"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "docs" / "reliability.md").read_text()
    assert "| Stand-in | nothing | rounds | pass | rounds 4 |" in page
    assert "| Scale | 77 sellers" in page
    assert "| `test_one::test_one` | passed |" in page
    assert "--scale-sellers 77 --report" in page


def test_chaos_fails_when_a_benchmark_misses_its_target(tmp_path: Path) -> None:
    _checkout(tmp_path, test="import pytest\n@pytest.mark.chaos\ndef test_ok():\n    pass\n",
              scale="raise SystemExit(3)\n")
    result = CliRunner().invoke(chaos, ["--checkout", str(tmp_path), "--soak-minutes", "0",
                                        "--report"])
    assert result.exit_code == 1
    assert "failed: scale (FAIL: exit 3, no figures)" in result.output  # not the suite
    assert "| Scale | `python -m benchmarks.scale --sellers 10000` |" in \
        (tmp_path / "docs" / "reliability.md").read_text()
