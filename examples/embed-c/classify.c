/* Classifies the Fashion-MNIST test set with a LeNet-5 compiled by `kiln compile` and prints the
 * accuracy. It links lenet5.so and reads the gzipped IDX files with zlib.
 *
 *   make MODEL_DIR=../../out run
 *   ./classify /usr/share/datasets/fashion-mnist [count]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lenet5.h"

enum { SIDE = 28, PADDED = 32, PAD = (PADDED - SIDE) / 2 };
/* The normalisation Kiln trains with: (pixel / 255 − mean) / std. */
static const float MEAN = 0.2860f, STD = 0.3530f;

/* Reads a whole gzipped (or plain) file; returns NULL with a message on failure. */
static unsigned char *read_gz(const char *path, size_t *size) {
  gzFile file = gzopen(path, "rb");
  if (!file) { fprintf(stderr, "classify: cannot open %s\n", path); return NULL; }
  size_t capacity = 1 << 20, used = 0;
  unsigned char *data = malloc(capacity);
  for (;;) {
    if (used == capacity && !(data = realloc(data, capacity *= 2))) break;
    int count = gzread(file, data + used, (unsigned)(capacity - used));
    if (count < 0) { fprintf(stderr, "classify: %s is corrupt\n", path); free(data); data = NULL; break; }
    if (count == 0) break;
    used += (size_t)count;
  }
  gzclose(file);
  *size = used;
  return data;
}

static uint32_t big_endian(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

int main(int argc, char **argv) {
  const char *directory = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  char images_path[1024], labels_path[1024];
  snprintf(images_path, sizeof images_path, "%s/t10k-images-idx3-ubyte.gz", directory);
  snprintf(labels_path, sizeof labels_path, "%s/t10k-labels-idx1-ubyte.gz", directory);
  size_t images_size, labels_size;
  unsigned char *images = read_gz(images_path, &images_size), *labels = read_gz(labels_path, &labels_size);
  if (!images || !labels || images_size < 16 || labels_size < 8 || big_endian(images) != 0x803 || big_endian(labels) != 0x801) {
    fprintf(stderr, "classify: the test set in %s is missing or not IDX\n", directory);
    return 1;
  }
  uint32_t total = big_endian(images + 4);
  if (images_size != 16 + (size_t)total * SIDE * SIDE || labels_size != 8 + total) {
    fprintf(stderr, "classify: the test set in %s is truncated\n", directory);
    return 1;
  }
  uint32_t count = argc > 2 ? (uint32_t)atoi(argv[2]) : total;
  if (count > total) count = total;

  lenet5_context *model;
  if (lenet5_create(&model) != LENET5_OK) { fprintf(stderr, "classify: cannot create the model\n"); return 1; }
  float input[LENET5_INPUT_INPUT_SIZE], logits[LENET5_OUTPUT_FC2_SIZE];
  uint32_t correct = 0;
  for (uint32_t n = 0; n < count; n++) {
    for (int i = 0; i < PADDED * PADDED; i++) input[i] = (0 - MEAN) / STD;
    const unsigned char *pixels = images + 16 + (size_t)n * SIDE * SIDE;
    for (int y = 0; y < SIDE; y++)
      for (int x = 0; x < SIDE; x++) input[(y + PAD) * PADDED + x + PAD] = (pixels[y * SIDE + x] / 255.0f - MEAN) / STD;
    if (lenet5_infer(model, input, logits) != LENET5_OK) {
      fprintf(stderr, "classify: %s\n", lenet5_last_error(model));
      return 1;
    }
    int best = 0;
    for (int c = 1; c < LENET5_OUTPUT_FC2_SIZE; c++) if (logits[c] > logits[best]) best = c;
    if (best == labels[8 + n]) correct++;
  }
  printf("accuracy %u/%u = %.2f%% (C, lenet5.so)\n", correct, count, 100.0 * correct / count);
  lenet5_destroy(model);
  free(images);
  free(labels);
  return 0;
}
