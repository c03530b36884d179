#define _GNU_SOURCE
#include "kiln_runtime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

kiln_status kiln_arena_init(kiln_arena *arena, size_t size, size_t alignment) {
  if (arena == NULL) return KILN_ERR_INVALID_ARGUMENT;
  arena->base = NULL;
  arena->size = 0;
  arena->alignment = 0;
  if (size == 0 || !is_power_of_two(alignment) || alignment < sizeof(void *))
    return KILN_ERR_INVALID_ARGUMENT;
  if (size > SIZE_MAX - alignment - KILN_HUGE_PAGE) return KILN_ERR_OUT_OF_MEMORY;
  // Large blocks take whole huge pages: weights and kept memory far larger than the caches are
  // then read without a TLB miss every 4 KiB (the kernel may still give small pages).
  size_t allocated = size;
  if (size >= KILN_HUGE_PAGE) {
    if (alignment < KILN_HUGE_PAGE) alignment = KILN_HUGE_PAGE;
    allocated = (size + KILN_HUGE_PAGE - 1) / KILN_HUGE_PAGE * KILN_HUGE_PAGE;
  }
  void *block = NULL;
  if (posix_memalign(&block, alignment, allocated) != 0) return KILN_ERR_OUT_OF_MEMORY;
#ifdef MADV_HUGEPAGE
  if (allocated >= KILN_HUGE_PAGE) (void)madvise(block, allocated, MADV_HUGEPAGE);
#endif
  memset(block, 0, size);
  arena->base = block;
  arena->size = size;
  arena->alignment = alignment;
  return KILN_OK;
}

void kiln_arena_free(kiln_arena *arena) {
  if (arena == NULL) return;
  free(arena->base);
  arena->base = NULL;
  arena->size = 0;
  arena->alignment = 0;
}

void kiln_arena_mark_stale(kiln_arena *arena, const size_t *flags, size_t count) {
  if (arena == NULL || flags == NULL) return;
  for (size_t i = 0; i < count; i++) {
    float *flag = flags[i] < arena->size / sizeof(float) ? kiln_arena_at(arena, flags[i] * sizeof(float), sizeof(float)) : NULL;
    if (flag != NULL) *flag = 0;
  }
}

void *kiln_arena_at(const kiln_arena *arena, size_t offset, size_t bytes) {
  if (arena == NULL || arena->base == NULL) return NULL;
  if (offset > arena->size || bytes > arena->size - offset) return NULL;
  return arena->base + offset;
}
