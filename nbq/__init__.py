"""nbq: compile power-of-two, binary and binary-complex neural networks from ONNX to Vitis HLS.

The Python API (docs/api.md) loads on first use, so `import nbq` stays fast and torch-free:
nbq.compile(...), nbq.open_project, nbq.estimate, nbq.boards; nbq.export (torch) exports a trained network.
"""

from nbq.lazy import lazy_exports

__all__ = ["compile", "open_project", "estimate", "boards", "Project", "Report", "SimRun", "Accuracy", "TestData",
           "load_test_data", "export"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "compile": "api", "open_project": "api", "estimate": "api", "boards": "api", "Project": "api", "Report": "api",
    "SimRun": "api", "Accuracy": "accuracy", "TestData": "testdata", "load_test_data": "testdata",
    "export": "nn.exporter"})

