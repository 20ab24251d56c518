// Umbrella header: the whole nbq HLS engine library (conventions in common.h).
#ifndef NBQ_NBQ_H
#define NBQ_NBQ_H

#include "add.h"
#include "arith.h"
#include "clamp.h"
#include "clone.h"
#include "common.h"
#include "complex.h"
#include "concat.h"
#include "csim_fast.h"
#include "io.h"
#include "mvau.h"
#include "pool.h"
#include "regroup.h"
#include "svpe.h"
#include "threshold.h"
#include "vec.h"
#include "vpe.h"
#include "weights.h"
#include "window.h"
#include "xnor.h"

#endif
