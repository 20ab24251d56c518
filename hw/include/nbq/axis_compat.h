// hls::axis for the Zynq (vivado flow) wrapper.  With Vitis HLS installed the
// real <ap_axi_sdata.h> is used; the open-source ap_types shipped with hls4ml
// lack it, so a minimal stand-in with the fields nbq touches is defined for
// C-simulation only (user/id/dest widths must be 0).
#ifndef NBQ_AXIS_COMPAT_H
#define NBQ_AXIS_COMPAT_H

#include <cstddef>

#include "common.h"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define NBQ_HAVE_AP_AXI_SDATA 1
#endif
#endif

#ifndef NBQ_HAVE_AP_AXI_SDATA
namespace hls {

template <class T, std::size_t WUser, std::size_t WId, std::size_t WDest>
struct axis {
    T data;
    ap_uint<(T::width + 7) / 8> keep;
    ap_uint<(T::width + 7) / 8> strb;
    ap_uint<1> last;
};

}  // namespace hls
#endif

#endif
