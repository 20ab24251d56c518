"""nbq: compile power-of-two, binary and binary-complex neural networks from ONNX to Vitis HLS."""


def __getattr__(name: str):
    # nbq.export lives in nbq.nn (torch); load it on first use so `import nbq` stays torch-free
    if name == "export":
        from nbq.nn.exporter import export

        return export
    raise AttributeError(f"module 'nbq' has no attribute {name!r}")
