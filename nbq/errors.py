"""User-facing errors: each carries a one-line message the CLI prints without a traceback."""


class NbqError(Exception):
    """An error caused by the user's input (file, model, option); the message says what to do."""


class UnsupportedModelError(NbqError):
    """The ONNX graph uses something nbq cannot compile exactly."""


class ToolNotFoundError(NbqError):
    """An external tool (g++, Vitis, Verilator) is missing."""


class InternalError(Exception):
    """A bug in nbq (e.g. a backend given a graph without a hardware plan): exit 3, not a user error."""


class ToolFailure(Exception):
    """An external tool failed on files nbq generated (g++ or Verilator could not build them): a bug in nbq,
    not a verdict on the design; the CLI prints the one-line message and exits 3."""
