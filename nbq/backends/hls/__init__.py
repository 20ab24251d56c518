"""The Vitis HLS backend: IR graph -> self-contained HLS C++ project (see project.py)."""

from nbq.backends.hls.project import MANIFEST, project_files, write_hls_project

__all__ = ["MANIFEST", "project_files", "write_hls_project"]
