"""What the model sees: state, last-expression logs, images, files in and out, streaming."""

from __future__ import annotations

import pytest

from assistantd.tools.code_interpreter.sandbox import DockerSandbox

from .conftest import run

pytestmark = pytest.mark.docker


async def test_state_persists_across_calls(sandbox: DockerSandbox) -> None:
    await run(sandbox, "contract-state", "import math\nx = 41")
    for _ in range(20):
        await run(sandbox, "contract-state", "x += 1")
    result = await run(sandbox, "contract-state", "print(x, math.pi > 3)")
    assert result.logs == "61 True\n"
    assert result.done is not None and not result.done.session_reset


async def test_last_expression_is_logged(sandbox: DockerSandbox) -> None:
    result = await run(sandbox, "contract-expr", "result = 2+2\nresult")
    assert result.logs == "4\n" and result.status == "ok"
    assert (await run(sandbox, "contract-expr", "None")).logs == ""
    error = await run(sandbox, "contract-expr", "def f():\n    return 1/0\nf()")
    assert error.status == "error"
    assert "ZeroDivisionError" in error.logs and 'File "<cell>", line 2, in f' in error.logs
    assert "kernel.py" not in error.logs


async def test_plot_returns_image(sandbox: DockerSandbox) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 3, 2]); plt.show()\n"
        "print('between')\n"
        "plt.figure(); plt.bar(['a', 'b'], [1, 2])\n"
    )
    result = await run(sandbox, "contract-plot", code)
    assert result.status == "ok"
    assert len(result.images) == 2
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in result.images)
    pil = await run(
        sandbox, "contract-plot", "from PIL import Image\nImage.new('RGB', (8, 8)).show()"
    )
    assert len(pil.images) == 1


async def test_saved_csv_reported_and_readable(sandbox: DockerSandbox) -> None:
    code = "import pandas as pd\npd.DataFrame({'a': [1, 2]}).to_csv('out/x.csv', index=False)"
    result = await run(sandbox, "contract-csv", "import os; os.makedirs('out')\n" + code)
    assert result.status == "ok", result.logs
    assert result.done is not None
    assert [(f.path, f.size) for f in result.done.files] == [("out/x.csv", 6)]
    assert await sandbox.read_file("contract-csv", "sandbox:/mnt/data/out/x.csv") == b"a\n1\n2\n"
    again = await run(sandbox, "contract-csv", "1")
    assert again.done is not None and again.done.files == []


async def test_uploaded_file_visible_in_mnt_data(sandbox: DockerSandbox) -> None:
    await sandbox.put_file("contract-upload", "data.csv", b"n\n1\n2\n3\n")
    result = await run(
        sandbox, "contract-upload", "import pandas as pd\npd.read_csv('/mnt/data/data.csv').n.sum()"
    )
    assert result.logs == "6\n"
    assert result.done is not None and result.done.files == []  # uploads are not "changed"
    await sandbox.put_file("contract-upload", "late.txt", b"hello")  # into a live session
    assert (await run(sandbox, "contract-upload", "open('late.txt').read()")).logs == "'hello'\n"


async def test_stream_logs_arrive_before_done(sandbox: DockerSandbox) -> None:
    code = "import time\nfor i in range(3):\n    print(i)\n    time.sleep(0.3)"
    result = await run(sandbox, "contract-stream", code)
    assert result.logs == "0\n1\n2\n"
    assert len(result.log_times) >= 3
    assert result.done_time - result.log_times[0] > 0.5
