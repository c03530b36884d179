/* Reading Fashion-MNIST's gzipped IDX files for the C examples: images padded to 32×32 and
 * normalised as Kiln trains ((pixel / 255 − 0.2860) / 0.3530), labels as int32. */
#ifndef KILN_EXAMPLE_IDX_H
#define KILN_EXAMPLE_IDX_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

enum { IDX_SIDE = 28, IDX_PADDED = 32, IDX_PAD = 2 };

typedef struct idx_set {
  uint32_t count;
  float *images;  /* count × 32 × 32 */
  int32_t *labels; /* count */
} idx_set;

static unsigned char *idx_read_gz(const char *path, size_t *size) {
  gzFile file = gzopen(path, "rb");
  if (!file) return NULL;
  size_t capacity = 1 << 20, used = 0;
  unsigned char *data = malloc(capacity);
  for (;;) {
    if (used == capacity) {
      unsigned char *grown = realloc(data, capacity *= 2);
      if (!grown) { free(data); data = NULL; break; }
      data = grown;
    }
    int count = gzread(file, data + used, (unsigned)(capacity - used));
    if (count < 0) { free(data); data = NULL; break; }
    if (count == 0) break;
    used += (size_t)count;
  }
  gzclose(file);
  *size = used;
  return data;
}

static uint32_t idx_u32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Loads `split` ("train" or "t10k") from `directory`, at most `limit` images (0: all).
 * Returns 0, or −1 after printing what is wrong. */
static int idx_load(const char *directory, const char *split, uint32_t limit, idx_set *set) {
  char images_path[1024], labels_path[1024];
  snprintf(images_path, sizeof images_path, "%s/%s-images-idx3-ubyte.gz", directory, split);
  snprintf(labels_path, sizeof labels_path, "%s/%s-labels-idx1-ubyte.gz", directory, split);
  size_t images_size = 0, labels_size = 0;
  unsigned char *images = idx_read_gz(images_path, &images_size), *labels = idx_read_gz(labels_path, &labels_size);
  int ok = images && labels && images_size >= 16 && labels_size >= 8 && idx_u32(images) == 0x803 && idx_u32(labels) == 0x801;
  uint32_t total = ok ? idx_u32(images + 4) : 0;
  ok = ok && images_size == 16 + (size_t)total * IDX_SIDE * IDX_SIDE && labels_size == 8 + (size_t)total;
  if (!ok) {
    fprintf(stderr, "%s or %s is missing, truncated or not IDX\n", images_path, labels_path);
    free(images);
    free(labels);
    return -1;
  }
  set->count = limit && limit < total ? limit : total;
  set->images = malloc((size_t)set->count * IDX_PADDED * IDX_PADDED * sizeof(float));
  set->labels = malloc((size_t)set->count * sizeof(int32_t));
  const float mean = 0.2860f, std = 0.3530f;
  for (uint32_t n = 0; n < set->count; n++) {
    float *image = set->images + (size_t)n * IDX_PADDED * IDX_PADDED;
    for (int i = 0; i < IDX_PADDED * IDX_PADDED; i++) image[i] = (0 - mean) / std;
    const unsigned char *pixels = images + 16 + (size_t)n * IDX_SIDE * IDX_SIDE;
    for (int y = 0; y < IDX_SIDE; y++)
      for (int x = 0; x < IDX_SIDE; x++) image[(y + IDX_PAD) * IDX_PADDED + x + IDX_PAD] = (pixels[y * IDX_SIDE + x] / 255.0f - mean) / std;
    set->labels[n] = labels[8 + n];
  }
  free(images);
  free(labels);
  return 0;
}

static void idx_free(idx_set *set) {
  free(set->images);
  free(set->labels);
}

/* The numbers 0 … count − 1 shuffled (Fisher–Yates with a fixed linear congruential generator
 * seeded by `seed`), the same on every machine and process; NULL when out of memory. */
static inline uint32_t *idx_shuffled_order(uint32_t count, uint64_t seed) {
  uint32_t *order = malloc((count ? count : 1) * sizeof *order);
  if (!order) return NULL;
  for (uint32_t i = 0; i < count; i++) order[i] = i;
  uint64_t state = seed;
  for (uint32_t i = count ? count - 1 : 0; i > 0; i--) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t j = (uint32_t)((state >> 33) % (i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

#endif
