"""Run one Python block of the manual, unchanged, after its prelude; report what it computed.

    python tests/manual/exec_block.py BLOCK.py REPORT.json

Runs in the current folder (the one the runner prepared), as `python BLOCK.py` would, after the
block's prelude (tests/manual/preludes.py), whose values are in its namespace first. Writes
REPORT.json: the prelude used and, for each name the block assigns at its top level, why its value
is not a result (None, empty, a placeholder), if it is not. A failing block exits non-zero with its
traceback, like `python BLOCK.py`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(block_path: str, report_path: str) -> int:
    sys.path.insert(0, os.getcwd())  # as for `python BLOCK.py` run from the block's folder
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    from tests.manual.checks import assigned_names, empty_value, free_names
    from tests.manual.manual_blocks import first_code_line
    from tests.manual.preludes import check_provided, prelude_for

    source = Path(block_path).read_text(encoding="utf-8")
    free = free_names(source)
    prelude = prelude_for(first_code_line(source), free)
    namespace = {"__name__": "__main__", "__file__": block_path}
    report = {"prelude": prelude.__name__ if prelude else None, "empty": {}}
    if prelude:
        values = prelude()
        check_provided(prelude, values, free)
        namespace.update(values)
    Path(report_path).write_text(json.dumps(report), encoding="utf-8")  # what ran, even if the block fails
    exec(compile(source, block_path, "exec"), namespace)  # noqa: S102 - the manual's own code
    for name in assigned_names(source):
        why = empty_value(namespace.get(name))
        if why:
            report["empty"][name] = why
    Path(report_path).write_text(json.dumps(report), encoding="utf-8")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
