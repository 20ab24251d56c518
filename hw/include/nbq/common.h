// nbq HLS layer library: shared includes and conventions.
//
// Every layer is a function template over a config struct (static const
// parameters, typedefs for the stream/accumulator types).  Layers talk through
// hls::stream carrying one scalar per transfer, channels-last (H, W, C with C
// fastest), and each call processes exactly one image.
//
// Arithmetic is done in the exact widths the nbq compiler proved from the
// tensors' integer ranges.  ap_[u]int arithmetic is modular, so a partial sum
// that leaves the proven range of the final result still ends exact.
#ifndef NBQ_COMMON_H
#define NBQ_COMMON_H

#include <stdint.h>

// GCC's middle end reports false "may be used uninitialized" warnings inside
// ap_private once its code is inlined into ours (-O1 and up); diagnostics are
// matched by source location, so silencing them around the include keeps
// -Wall -Wextra -Werror usable for nbq's own code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <ap_int.h>
#include <hls_stream.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
