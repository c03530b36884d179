/* Fuzzes the C runtime's safetensors reader, which runs inside users' programs on files they may
 * not control. Two drivers share one check:
 *   - libFuzzer: clang -fsanitize=fuzzer,address,undefined -DKILN_LIBFUZZER ... (LLVMFuzzerTestOneInput);
 *   - the tests: cc -fsanitize=address,undefined ..., then `safetensors_fuzz DIR SEED CASES` runs
 *     hand-made hostile headers and CASES seeded mutations of valid files.
 * The check: the reader returns a known status, says why it failed, and changes no tensor's data
 * when the file is refused; the sanitizers catch every out-of-bounds access and overflow. */
#include "kiln_runtime.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const int64_t weight_shape[] = {2, 3}, bias_shape[] = {4};
static float weight[6], bias[4];
/* Names with characters that JSON must escape. */
static const kiln_tensor tensors[] = {{"conv1.weight", weight_shape, 2, weight}, {"fc\"2\\/\xc3\xa9\n.bias", bias_shape, 1, bias}};
enum { TENSORS = 2, SENTINEL = 0x7fa00001 };

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "safetensors_fuzz: %s (%s)\n", what, detail);
  abort();
}

static void fill(float value) {
  for (int i = 0; i < 6; i++) weight[i] = value + (float)i;
  for (int i = 0; i < 4; i++) bias[i] = -value - (float)i;
}

static int untouched(void) {
  for (int i = 0; i < 6; i++) { uint32_t bits; memcpy(&bits, &weight[i], 4); if (bits != SENTINEL) return 0; }
  for (int i = 0; i < 4; i++) { uint32_t bits; memcpy(&bits, &bias[i], 4); if (bits != SENTINEL) return 0; }
  return 1;
}

/* Loads `size` bytes through a file at `path`; returns the status after checking the contract. */
static kiln_status check(const uint8_t *data, size_t size, const char *path) {
  FILE *file = fopen(path, "wb");
  if (!file || fwrite(data, 1, size, file) != size || fclose(file) != 0) fail("cannot write the case", path);
  uint32_t sentinel = SENTINEL;
  for (int i = 0; i < 6; i++) memcpy(&weight[i], &sentinel, 4);
  for (int i = 0; i < 4; i++) memcpy(&bias[i], &sentinel, 4);
  char error[256] = "";
  kiln_status status = kiln_safetensors_load(path, tensors, TENSORS, error, sizeof error);
  if (status < KILN_OK || status > KILN_ERR_OUT_OF_RANGE) fail("unknown status", error);
  if (status != KILN_OK && !error[0]) fail("a refusal without a message", kiln_status_string(status));
  if (status == KILN_ERR_CORRUPT_FILE || status == KILN_ERR_SHAPE) {
    if (!untouched()) fail("a refused file changed tensor data", error);
  }
  return status;
}

#ifdef KILN_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/kiln-fuzz-%ld", (long)getpid());
  check(data, size, path);
  return 0;
}
#else

/* A file of one 8-byte length and `header` (no data), as the hand-made cases need. */
static size_t with_header(uint8_t *out, const char *header, size_t length) {
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)((uint64_t)length >> (8 * i));
  memcpy(out + 8, header, length);
  return 8 + length;
}

static uint64_t state;
static uint64_t next(void) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: safetensors_fuzz DIRECTORY SEED CASES\n");
    return 2;
  }
  char path[4096], valid_path[4096];
  snprintf(path, sizeof path, "%s/case.safetensors", argv[1]);
  snprintf(valid_path, sizeof valid_path, "%s/valid.safetensors", argv[1]);
  state = strtoull(argv[2], NULL, 10);
  long cases = strtol(argv[3], NULL, 10);

  /* The writer's file (names escaped) loads back exactly. */
  fill(1.5f);
  char error[256] = "";
  if (kiln_safetensors_save(valid_path, tensors, TENSORS, error, sizeof error) != KILN_OK) fail("save", error);
  FILE *file = fopen(valid_path, "rb");
  static uint8_t valid[1 << 16], mutated[1 << 17];
  size_t valid_size = file ? fread(valid, 1, sizeof valid, file) : 0;
  if (file) fclose(file);
  if (check(valid, valid_size, path) != KILN_OK) fail("the writer's own file is refused", valid_path);
  for (int i = 0; i < 6; i++) if (weight[i] != 1.5f + (float)i) fail("weights read back wrong", valid_path);
  for (int i = 0; i < 4; i++) if (bias[i] != -1.5f - (float)i) fail("bias read back wrong", valid_path);

  /* Hand-made hostile headers: each must be refused. */
  static char deep[300000];
  size_t depth = 100000, at = (size_t)sprintf(deep, "{\"__metadata__\":");
  for (size_t i = 0; i < depth; i++) deep[at++] = '[';
  deep[at] = 0;
  const char *hostile[] = {
    deep,
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,2412345678901234567890123",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"fc\\\"2\\\\/\\u00e9\\n.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,24]}}",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[-24,0]}}",
    "{\"conv1.weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}",
    "{\"conv1\\u0000.weight\":{}}",
    "{\"conv1\\ud800.weight\":{}}",
    "{\"__metadata__\":{\"a\":\"b\"}} trailing",
    "{\"__metadata__\":{\"a\":\"b\",}}",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3]}}",
    "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24,48]}}",
    "[]",
    "",
  };
  long refused = 0;
  for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
    size_t size = with_header(mutated, hostile[i], strlen(hostile[i]));
    if (size + 64 <= sizeof mutated) memset(mutated + size, 0, 64), size += 64;
    if (check(mutated, size, path) == KILN_OK) fail("a hostile header was accepted", hostile[i]);
    refused++;
  }
  /* Header lengths past the file, and files shorter than the length field. */
  uint64_t lengths[] = {UINT64_MAX, (uint64_t)1 << 63, valid_size, valid_size - 7, 0};
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    memcpy(mutated, valid, valid_size);
    for (int b = 0; b < 8; b++) mutated[b] = (uint8_t)(lengths[i] >> (8 * b));
    if (check(mutated, valid_size, path) == KILN_OK) fail("a bad header length was accepted", "");
    refused++;
  }
  for (size_t size = 0; size < 8; size++) check(valid, size, path);

  /* Seeded mutations of the valid file. */
  static const char interesting[] = "{}[]\",:\\0123456789-eE.u \t\n";
  long accepted = 0;
  for (long n = 0; n < cases; n++) {
    size_t size = valid_size;
    memcpy(mutated, valid, size);
    int edits = 1 + (int)(next() % 6);
    for (int e = 0; e < edits && size > 0; e++) {
      size_t where = (size_t)(next() % size);
      switch (next() % 7) {
      case 0: mutated[where] ^= (uint8_t)(1u << (next() % 8)); break;
      case 1: mutated[where] = (uint8_t)interesting[next() % (sizeof interesting - 1)]; break;
      case 2: mutated[where] = (uint8_t)next(); break;
      case 3: size = where; break; /* truncate */
      case 4: { /* delete a run */
        size_t length = (size_t)(next() % 16);
        if (where + length > size) length = size - where;
        memmove(mutated + where, mutated + where + length, size - where - length);
        size -= length;
        break;
      }
      case 5: { /* duplicate a run */
        size_t length = (size_t)(next() % 32);
        if (where + length > size) length = size - where;
        if (size + length > sizeof mutated) break;
        memmove(mutated + where + length, mutated + where, size - where);
        size += length;
        break;
      }
      case 6: { /* the header length field, off by a little or a lot */
        uint64_t length = 0;
        for (int b = 7; b >= 0; b--) length = length << 8 | mutated[b];
        length = next() % 2 ? length + (next() % 17) - 8 : next();
        for (int b = 0; b < 8 && size >= 8; b++) mutated[b] = (uint8_t)(length >> (8 * b));
        break;
      }
      }
    }
    if (check(mutated, size, path) == KILN_OK) accepted++;
  }
  unlink(path);
  printf("safetensors_fuzz: %ld hostile files refused, %ld mutated files (%ld accepted, %ld refused), no fault\n", refused, cases, accepted,
         cases - accepted);
  return 0;
}
#endif
