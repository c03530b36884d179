#include "kiln_runtime.h"

const char *kiln_status_string(kiln_status status) {
  switch (status) {
  case KILN_OK: return "ok";
  case KILN_ERR_INVALID_ARGUMENT: return "invalid argument";
  case KILN_ERR_OUT_OF_MEMORY: return "out of memory";
  case KILN_ERR_SHAPE: return "shape mismatch";
  case KILN_ERR_IO: return "input/output error";
  case KILN_ERR_CORRUPT_FILE: return "corrupt or truncated file";
  case KILN_ERR_OUT_OF_RANGE: return "index out of range";
  case KILN_ERR_INTERNAL: return "internal error";
  case KILN_ERR_COMMUNICATION: return "the all-reduce with the other processes failed";
  }
  return "unknown status";
}
