"""RTL backend: a compiled nbq graph -> a streaming SystemVerilog network (hw/rtl engines, ROM tables).

write_rtl_project(graph, board, out_dir, golden_inputs, golden_outputs) writes out_dir/rtl/;
nbq.sim.cosim.run_cosim(out_dir) co-simulates it.
"""

from nbq.backends.rtl.project import MANIFEST, RTL_DIR, build_network, project_files, write_rtl_project

__all__ = ["MANIFEST", "RTL_DIR", "build_network", "project_files", "write_rtl_project"]
