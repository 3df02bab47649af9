"""Reports what the Schemathesis stage covered."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.fuzz.test_schemathesis import COVERED, EXAMPLES

    for backend in sorted({backend for backend, _ in COVERED}):
        counts = [n for (b, _), n in COVERED.items() if b == backend]
        terminalreporter.write_line(
            f"schemathesis on {backend}: {len(counts)} operations, {sum(counts)} examples "
            f"(at most {EXAMPLES} per operation and generation mode, plus the coverage phase)"
        )
