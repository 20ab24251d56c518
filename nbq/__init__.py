"""nbq: compile power-of-two, binary and binary-complex neural networks from ONNX to Vitis HLS.

The Python API (docs/api.md) loads on first use, so `import nbq` stays fast and torch-free:
nbq.compile(...), nbq.open_project, nbq.estimate, nbq.boards; nbq.export (torch) exports a trained network.
"""

import importlib

from nbq.lazy import lazy_exports

__all__ = ["compile", "open_project", "estimate", "boards", "Project", "Report", "SimRun", "Accuracy", "TestData",
           "load_test_data", "export"]

# "compile" is listed for dir(nbq); __getattr__ below resolves it to the callable module
_getattr, __dir__ = lazy_exports(__name__, {
    "compile": "api", "open_project": "api", "estimate": "api", "boards": "api", "Project": "api", "Report": "api",
    "SimRun": "api", "Accuracy": "accuracy", "TestData": "testdata", "load_test_data": "testdata",
    "export": "nn.exporter"})


def __getattr__(name: str) -> object:
    if name == "compile":  # the pipeline module, callable as nbq.api.compile (see nbq/compile.py's end)
        return importlib.import_module("nbq.compile")
    return _getattr(name)
