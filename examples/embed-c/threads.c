/* Two contexts of one compiled model on two threads at once (the second also runs its loops on
 * two threads of its own): each classifies the same test images, and the program checks that
 * both got exactly the logits of a single context run alone.
 *
 *   ./threads /usr/share/datasets/fashion-mnist [count]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "lenet5.h"

typedef struct job {
  const idx_set *test;
  float *logits; /* count × classes */
  int status;
  int threads;   /* for lenet5_set_threads */
} job;

static void *classify(void *argument) {
  job *work = argument;
  lenet5_context *model;
  work->status = lenet5_create(&model);
  if (work->status == LENET5_OK) work->status = lenet5_set_threads(model, work->threads);
  for (uint32_t n = 0; work->status == LENET5_OK && n < work->test->count; n++)
    work->status = lenet5_infer(model, work->test->images + (size_t)n * LENET5_INPUT_INPUT_SIZE, work->logits + (size_t)n * LENET5_OUTPUT_FC2_SIZE);
  lenet5_destroy(model);
  return NULL;
}

int main(int argc, char **argv) {
  idx_set test;
  if (idx_load(argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist", "t10k", argc > 2 ? (uint32_t)atoi(argv[2]) : 500, &test) != 0) return 1;
  size_t size = (size_t)test.count * LENET5_OUTPUT_FC2_SIZE * sizeof(float);
  job alone = {&test, malloc(size), 0, 1}, first = {&test, malloc(size), 0, 1}, second = {&test, malloc(size), 0, 2};
  classify(&alone);
  pthread_t threads[2];
  pthread_create(&threads[0], NULL, classify, &first);
  pthread_create(&threads[1], NULL, classify, &second);
  pthread_join(threads[0], NULL);
  pthread_join(threads[1], NULL);
  int same = alone.status == 0 && first.status == 0 && second.status == 0 && memcmp(alone.logits, first.logits, size) == 0 &&
             memcmp(alone.logits, second.logits, size) == 0;
  printf("two threads, two contexts, %u images each: %s\n", test.count, same ? "identical to one context" : "DIFFERENT");
  free(alone.logits);
  free(first.logits);
  free(second.logits);
  idx_free(&test);
  return same ? 0 : 1;
}
