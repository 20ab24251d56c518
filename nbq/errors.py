"""User-facing errors: each carries a one-line message the CLI prints without a traceback."""


class NbqError(Exception):
    """An error caused by the user's input (file, model, option); the message says what to do."""


class UnsupportedModelError(NbqError):
    """The ONNX graph uses something nbq cannot compile exactly."""


class ToolNotFoundError(NbqError):
    """An external tool (g++, Vitis, Verilator) is missing."""
