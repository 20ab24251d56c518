// Umbrella header: the whole nbq HLS layer library.
#ifndef NBQ_NBQ_H
#define NBQ_NBQ_H

#include "add.h"
#include "clamp.h"
#include "clone.h"
#include "common.h"
#include "conv.h"
#include "dense.h"
#include "intw.h"
#include "io.h"
#include "po2.h"
#include "pool.h"
#include "threshold.h"
#include "weights.h"
#include "window.h"

#endif
