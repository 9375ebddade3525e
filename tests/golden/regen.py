"""Regenerate the golden records: ``python -m tests.golden.regen`` from the project root.

Review the diff before committing: it is exactly what changed in generated code.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from deriv_codegen.build import STAMP

from ..conftest import generate_mini, generate_mini_rpc, generate_mini_v3

EXPECTED = Path(__file__).resolve().parent / "expected"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = [generate_mini(Path(tmp)), generate_mini_rpc(Path(tmp)), generate_mini_v3(Path(tmp))]
        shutil.rmtree(EXPECTED, ignore_errors=True)
        for result in results:
            (result.out_dir / STAMP).unlink()
            shutil.copytree(result.out_dir, EXPECTED / result.out_dir.name)
    print(f"golden records written to {EXPECTED}")


if __name__ == "__main__":
    main()
