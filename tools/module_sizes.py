"""Gate: no Python module among the given files and folders is over 400 lines, unless its first lines carry a comment
``# size: <why>`` saying why it is kept whole. Prints every offender with its size; exit 1 when there is one."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 400


def main(folders: list[str]) -> int:
    offenders = []
    for folder in folders:
        root = Path(folder)
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            lines = path.read_text().splitlines()
            excused = any(line.startswith("# size:") for line in lines[:30])
            if len(lines) > LIMIT and not excused:
                offenders.append(f"{path}: {len(lines)} lines (limit {LIMIT}; split it, or say why in a '# size:' comment)")
    for offender in offenders:
        print(offender)
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["oracle"]))
