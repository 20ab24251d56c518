"""The board flow around the HLS core: Makefile targets, bus packing, and the files that take a
project from C++ to hardware (U280: connectivity, XRT host; ZCU102: block design, PYNQ driver).

Everything here is computed from the board YAML and the top name, so one table (`targets`)
feeds the Makefile, the README, the manifest and `nbq build`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from nbq.backends.escape import cfg_value, comment_text, cpp_string, make_word, tcl_word
from nbq.backends.render import render
from nbq.board_catalog import Board
from nbq.errors import NbqError
from nbq.resources import data_dir

# HBM pseudo-channel ports are 256 bits wide; a 256-bit m_axi word needs no width converter in
# front of the HBM switch, and at 300 MHz it moves 9.6 GB/s, far more than the streaming core's
# one value per cycle.  Boards override it with memory.bus_bits.
DEFAULT_BUS_BITS = 256
IP_VENDOR, IP_LIBRARY, IP_VERSION = "nbq", "hls", "1.0"
IP_CELL, DMA_CELL = "nbq_0", "axi_dma_0"  # block-design cell names = PYNQ overlay attributes
DMA_LENGTH_BITS = 26  # axi_dma buffer-length register width (the maximum): transfers up to 64 MiB - 1

VITIS_HINT = "source <Vitis>/settings64.sh first"
VIVADO_HINT = "source <Vivado>/settings64.sh first"
XRT_HINT = "source /opt/xilinx/xrt/setup.sh first"


@dataclass(frozen=True)
class Target:
    """One Makefile target a user runs (directly or through `nbq build`)."""

    name: str
    what: str
    tools: tuple[str, ...]  # each entry: alternatives joined by "|"; "$VAR" = an environment variable
    requires: tuple[str, ...] = ()  # targets whose product this one builds first when it is missing
    product: str = ""  # the file it leaves behind (relative to the project)

    def manifest(self) -> dict:
        entry = asdict(self)
        entry["tools"], entry["requires"] = list(self.tools), list(self.requires)
        return entry


@dataclass(frozen=True)
class Names:
    """File and instance names of one project's flow."""

    top: str
    wrapper: str

    @property
    def xo(self) -> str:
        return f"{self.top}.xo"

    @property
    def xclbin(self) -> str:
        return f"{self.top}.xclbin"

    @property
    def host_bin(self) -> str:
        return f"host/{self.top}_host"

    @property
    def ip_vlnv(self) -> str:
        return f"{IP_VENDOR}:{IP_LIBRARY}:{self.wrapper}:{IP_VERSION}"

    @property
    def bitstream(self) -> str:
        return f"overlay/{self.top}.bit"

    @property
    def hwh(self) -> str:
        return f"overlay/{self.top}.hwh"  # PYNQ wants it next to the .bit, same base name

    @property
    def xsa(self) -> str:
        return f"vivado/{self.top}_system.xsa"


def targets(flow: str, names: Names) -> list[Target]:
    """The project's targets, in the order the README lists them."""
    hls, xrt = "vitis_hls|v++", ("$XILINX_XRT", "g++")
    common = [
        Target("csim", "C-simulation with g++ only, bit-exact against the golden vectors", ("g++",)),
        Target("csynth", "C synthesis (resource and latency reports)", (hls,)),
        Target("cosim", "C/RTL co-simulation", ("vitis_hls|vitis-run",)),
    ]
    if flow == "vitis":
        link = f"link {names.xo} into {names.xclbin} with connectivity.cfg (v++ -l)"
        return common + [
            Target("xo", f"package the kernel as {names.xo}", (hls,), product=names.xo),
            Target("xclbin", link, ("v++",), requires=("xo",), product=names.xclbin),
            Target("host", f"build the XRT host program {names.host_bin}", xrt, product=names.host_bin),
            Target("run", "run the golden batch on the card, check it, print frames/s", xrt, requires=("xclbin",)),
        ]
    implement = f"block design + implementation -> {names.bitstream}, .hwh, {names.xsa}"
    return common + [
        Target("ip", "export the Vivado IP into ip_repo/", (hls,), product="ip_repo/component.xml"),
        Target("bitstream", implement, ("vivado",), requires=("ip",), product=names.bitstream),
    ]


def tool_hint(tool: str) -> str:
    """What a user without `tool` installed should do, for the one-line messages."""
    if tool == "vivado":
        return VIVADO_HINT
    if tool == "$XILINX_XRT":
        return XRT_HINT
    if tool in ("g++", "make"):
        return "install it (e.g. apt-get install g++ make)"
    return VITIS_HINT


@dataclass(frozen=True)
class BusFormat:
    """How values travel between memory and the core."""

    lane_bits: int  # bits per value on the bus (8, 16, 32 or 64)
    word_bits: int  # bits per bus word (m_axi data width on U280; = lane_bits for AXI-Stream)
    in_size: int
    out_size: int

    @property
    def lanes(self) -> int:
        return self.word_bits // self.lane_bits

    @property
    def in_words(self) -> int:
        return -(-self.in_size // self.lanes)

    @property
    def out_words(self) -> int:
        return -(-self.out_size // self.lanes)


def bus_format(board: Board, lane_bits: int, in_size: int, out_size: int) -> BusFormat:
    if board.flow != "vitis":
        return BusFormat(lane_bits, lane_bits, in_size, out_size)
    bits = board.memory.get("bus_bits", DEFAULT_BUS_BITS)
    if not isinstance(bits, int) or bits < 64 or bits > 1024 or bits & (bits - 1):
        where = board.path or board.name
        raise NbqError(f"{where}: memory.bus_bits must be a power of two from 64 to 1024, got {bits}")
    return BusFormat(lane_bits, max(bits, lane_bits), in_size, out_size)


def packing_text(flow: str, bus: BusFormat) -> str:
    if flow == "vitis":
        return (
            f"The kernel's m_axi words are {bus.word_bits} bits wide and carry {bus.lanes} values of "
            f"{bus.lane_bits} bits: value i of an image sits in lane i % {bus.lanes} of word i / {bus.lanes} "
            f"(lane k = bits [{bus.lane_bits}k, {bus.lane_bits}k+{bus.lane_bits - 1}]); each image starts on a new "
            "word, unused lanes are 0, signed values are sign-extended. A word is little-endian in memory, so a "
            f"buffer is a plain array of {bus.lane_bits}-bit integers padded per image."
        )
    return (
        f"AXI-Stream words carry one value each, {bus.lane_bits} bits, in the low bits, sign-extended when "
        "the type is signed; TLAST marks the last value of each image."
    )


def connectivity(board: Board, names: Names) -> dict:
    """Template values for connectivity.cfg: banks from memory.default_banks (input, output)."""
    banks = board.memory.get("default_banks") or []
    if banks and (not isinstance(banks, list) or len(banks) not in (1, 2)):
        raise NbqError(f"{board.path or board.name}: memory.default_banks must list one or two banks (input, output)")
    banks = [cfg_value(str(b)) for b in banks]
    ports = [("m_axi_gmem0", banks[0]), ("m_axi_gmem1", banks[-1])] if banks else []
    slr = board.memory.get("slr")
    return {"instance": f"{names.wrapper}_1", "sp": ports, "slr": cfg_value(str(slr)) if slr else ""}


# ------------------------------------------------------------------ files


def flow_context(board: Board, names: Names, bus: BusFormat) -> dict:
    """Values every flow template may use."""
    return {
        "targets": targets(board.flow, names),
        "platform": comment_text(board.platform),  # comments; the Makefile gets platform_make
        "platform_make": make_word(board.platform),
        "kernel": names.wrapper,
        "kernel_cpp": cpp_string(names.wrapper),
        "xclbin_cpp": cpp_string(names.xclbin),
        "xo": names.xo,
        "xclbin": names.xclbin,
        "host_bin": names.host_bin,
        "ip_vlnv": names.ip_vlnv,
        "ip_vendor": IP_VENDOR,
        "ip_library": IP_LIBRARY,
        "ip_version": IP_VERSION,
        "bitstream": names.bitstream,
        "hwh": names.hwh,
        "xsa": names.xsa,
        "bus_bits": bus.word_bits,
        "lanes": bus.lanes,
        "in_words": bus.in_words,
        "out_words": bus.out_words,
        "packing": packing_text(board.flow, bus),
    }


def flow_files(board: Board, names: Names, common: dict, signed: tuple[bool, bool]) -> dict[str, str]:
    """The board-flow files (text), given the project's common template values."""
    files: dict[str, str] = {}
    if board.flow == "vitis":
        files["connectivity.cfg"] = render("hls", "connectivity.cfg.j2", **connectivity(board, names), **common)
        files["host/host.cpp"] = render("hls", "host.cpp.j2", in_signed=signed[0], out_signed=signed[1], **common)
        files["host/nbq_host.h"] = (data_dir("hw") / "host" / "nbq_host.h").read_text()
    else:
        files["vivado/block_design.tcl"] = render(
            "hls",
            "block_design.tcl.j2",
            board_part_tcl=tcl_word(board.vivado_board_part),
            hp_bits=int(board.memory.get("hp_port_bits", 128)),
            ip_cell=IP_CELL,
            dma_cell=DMA_CELL,
            dma_length_bits=DMA_LENGTH_BITS,
            **common,
        )
        files["driver/nbq_driver.py"] = (data_dir("hw") / "host" / "nbq_driver.py").read_text()
    return files


def manifest_entries(board: Board, names: Names, bus: BusFormat) -> dict:
    """What the manifest records about the flow (read by `nbq build` and the PYNQ driver)."""
    entry: dict = {
        "targets": [t.manifest() for t in targets(board.flow, names)],
        "bus": {"lane_bits": bus.lane_bits, "word_bits": bus.word_bits, "lanes": bus.lanes,
                "in_words_per_image": bus.in_words, "out_words_per_image": bus.out_words},
    }  # fmt: skip
    if board.flow == "vitis":
        conn = connectivity(board, names)
        entry["vitis"] = {
            "kernel": names.wrapper,
            "instance": conn["instance"],
            "platform": board.platform,
            "xo": names.xo,
            "xclbin": names.xclbin,
            "banks": {port: bank for port, bank in conn["sp"]},
            "host": names.host_bin,
            "batch_files": ["tb_data/inputs.bin", "tb_data/golden.bin"],
        }
    else:
        entry["zynq"] = {
            "ip_vlnv": names.ip_vlnv,
            "ip_cell": IP_CELL,
            "dma_cell": DMA_CELL,
            "dma_max_bytes": 2**DMA_LENGTH_BITS - 1,
            "bitstream": names.bitstream,
            "hwh": names.hwh,
            "xsa": names.xsa,
        }
    return entry
