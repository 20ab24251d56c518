"""How the RTL prints an MVAU's engine and ROM (nbq_mvau's ENGINE parameter and $readmemh words).

Every decision - engine, codes, fold order, accumulator width - comes from the hardware plan
(nbq.plan); this module only maps it onto nbq_mvau's parameters.
"""

from __future__ import annotations

import numpy as np

from nbq.plan.records import EngineKind, MemoryKind, Rom
from nbq.plan.weights import fold_rows

SVPE, VPE, XNOR, CXNOR = 0, 1, 2, 3
ENGINE_PARAM = {EngineKind.SVPE: SVPE, EngineKind.VPE: VPE, EngineKind.XNOR: XNOR, EngineKind.CXNOR: CXNOR}


def weight_rom(m_codes: np.ndarray, engine: int, bits: int, pe: int, simd: int,
               b_codes: np.ndarray | None = None) -> tuple[list[int], int]:
    """Weight matrix codes (OC, K) -> (ROM words, word width), the layout nbq_mvau reads (for unit tests).

    CXNOR: m_codes is A and b_codes is B; each is stored once.
    """
    rows = fold_rows(np.asarray(m_codes, dtype=np.uint64), pe, simd)
    if engine == CXNOR:
        if b_codes is None:
            raise ValueError("the complex engine needs both A and B")
        rows = np.concatenate([rows, fold_rows(np.asarray(b_codes, dtype=np.uint64), pe, simd)], axis=1)
    rom = Rom.of(rows, 1 if engine in (XNOR, CXNOR) else bits, MemoryKind.LUTRAM)
    return rom.row_words(), rom.row_bits
