// Test stub, see xrt_stub.h.
#include "xrt_stub.h"
