"""Baseline child of ``generate_full``: datamodel-code-generator alone, once, on one document.

Run as a script in a fresh interpreter: ``python _dmcg_child.py DOC.json OPTIONS.json OUT.py``.
Imports only the library (not deriv_codegen) so that its wall time is "what the library costs".
Prints its own split (import / generate seconds, classes emitted) as JSON on stdout.
"""

from __future__ import annotations

import time

started = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402


def main(doc_path: str, options_path: str, out_path: str) -> None:
    import datamodel_code_generator as dmcg
    from datamodel_code_generator.enums import DataModelType, InputFileType

    imported = time.perf_counter()
    doc = json.loads(Path(doc_path).read_text(encoding="utf-8"))
    options = json.loads(Path(options_path).read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = dmcg.generate(
            doc,
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            **options,
        )
    if not isinstance(code, str):
        raise SystemExit(f"expected one module from datamodel-code-generator, got {type(code).__name__}")
    Path(out_path).write_text(code, encoding="utf-8")
    done = time.perf_counter()
    split = {
        "import_s": imported - started,
        "generate_s": done - imported,
        "classes": code.count("\nclass "),
        "lines": code.count("\n"),
    }
    print(json.dumps(split))


if __name__ == "__main__":
    main(*sys.argv[1:4])
