"""What a generated project's tools write inside it, and which existing folders nbq may therefore replace."""

from __future__ import annotations

from pathlib import Path

from nbq.backends.names import c_identifier
from nbq.backends.outdir import Owned, check_output_path, check_replaceable, read_listing

MANIFEST = "nbq_project.json"
# nbq's own simulators: g++ C-simulation (nbq csim, make csim) and the Verilator co-simulation
SIM_OUTPUTS = ("csim_build/", "tb_data/csim_outputs.dat", "rtl/sim_build*/", "rtl/sim_run/")
# the weight ROM initializers tools/nbq_rom_init.py generates from firmware/rom/*.bin (make, run_hls.tcl, nbq csim)
ROM_OUTPUTS = ("firmware/rom/*.inc", "firmware/rom/*.inc.part")
RTL_SIM_DIRS = ("sim_build", "sim_build_waves", "sim_run")  # kept when the RTL is rewritten


def build_outputs(top: str, flow: str) -> list[str]:
    """Paths the generated Makefile (its `clean` target lists them), run_hls.tcl, block_design.tcl and the
    Xilinx tools create in the project: a trailing "/" marks a folder."""
    vitis_hls = [f"{top}_prj/", f"{top}_hls/", "vitis_hls.log", "vitis-run*.log", "v++*.log", ".Xil/"]
    if flow == "vitis":
        flow_outputs = [f"{top}.xo", f"{top}*.xclbin", f"{top}*.xclbin.*", f"host/{top}_host", "_x/", ".ipcache/",
                        "emconfig.json", "xrt.run_summary", "*.ltx"]
    else:
        flow_outputs = ["ip_repo/", "vivado/build/", "vivado/*.log", "vivado/*.jou", f"overlay/{top}.bit",
                        f"overlay/{top}.hwh", f"vivado/{top}_system.xsa", "driver/__pycache__/"]
    return [*SIM_OUTPUTS, *ROM_OUTPUTS, *vitis_hls, *flow_outputs]


def _patterns(manifest: dict) -> list[str]:
    """The manifest's build outputs, restricted to those this nbq declares (an edited manifest cannot claim
    "*/" and so make nbq delete a user's folder); a manifest without them gets the defaults for its top."""
    top = manifest.get("top")
    top = top if isinstance(top, str) and c_identifier(top) == top else "nbq_top"
    known = {*build_outputs(top, "vitis"), *build_outputs(top, "vivado")}
    listed = manifest.get("build_outputs")
    if isinstance(listed, list):
        return [p for p in listed if isinstance(p, str) and p in known]
    return build_outputs(top, str(manifest.get("flow", "vivado")))  # a manifest from before build_outputs


def rtl_owned(rtl_dir: Path) -> Owned | None:
    """What nbq wrote in an RTL folder (from its nbq_rtl.json), or None when it holds no nbq RTL manifest."""
    listing = read_listing(rtl_dir / "nbq_rtl.json", "nbq_rtl")
    if listing is None:
        return None
    return Owned(listing[1], tuple(f"{d}/" for d in RTL_SIM_DIRS))


def project_owned(folder: Path) -> Owned | None:
    """What nbq wrote in a project folder (its manifest's files, the build outputs, rtl/ per its own
    manifest), or None when the folder holds no nbq manifest."""
    listing = read_listing(folder / MANIFEST, "nbq_project")
    if listing is None:
        return None
    manifest, files = listing
    owned = Owned(files, tuple(_patterns(manifest)))
    rtl = rtl_owned(folder / "rtl")
    return owned | rtl.with_prefix("rtl") if rtl is not None else owned


def check_project_target(out_dir: str | Path, model: str | Path | None = None) -> Path:
    """Refuse an output folder nbq may not write or replace (see nbq.backends.outdir); return it absolute."""
    folder = check_output_path(out_dir, model)
    check_replaceable(folder, str(out_dir), project_owned(folder), MANIFEST)
    return folder
