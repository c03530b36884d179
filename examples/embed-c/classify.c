/* Classifies the Fashion-MNIST test set with a LeNet-5 compiled by `kiln compile` and prints the
 * accuracy; `--logits N` prints the logits of test image N instead.
 *
 *   make MODEL_DIR=../../out run
 *   ./classify /usr/share/datasets/fashion-mnist [count | --logits N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "lenet5.h"

int main(int argc, char **argv) {
  const char *directory = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  int logits_of = argc > 3 && strcmp(argv[2], "--logits") == 0 ? atoi(argv[3]) : -1;
  uint32_t limit = logits_of >= 0 ? (uint32_t)logits_of + 1 : argc > 2 ? (uint32_t)atoi(argv[2]) : 0;
  idx_set test;
  if (idx_load(directory, "t10k", limit, &test) != 0) return 1;

  lenet5_context *model;
  if (lenet5_create(&model) != LENET5_OK) { fprintf(stderr, "classify: cannot create the model\n"); return 1; }
  float logits[LENET5_OUTPUT_FC2_SIZE];
  uint32_t correct = 0;
  for (uint32_t n = logits_of >= 0 ? (uint32_t)logits_of : 0; n < test.count; n++) {
    if (lenet5_infer(model, test.images + (size_t)n * LENET5_INPUT_INPUT_SIZE, logits) != LENET5_OK) {
      fprintf(stderr, "classify: %s\n", lenet5_last_error(model));
      return 1;
    }
    int best = 0;
    for (int c = 1; c < LENET5_OUTPUT_FC2_SIZE; c++) if (logits[c] > logits[best]) best = c;
    if (best == test.labels[n]) correct++;
  }
  if (logits_of >= 0) {
    for (int c = 0; c < LENET5_OUTPUT_FC2_SIZE; c++) printf("%.9g\n", logits[c]);
  } else {
    printf("accuracy %u/%u = %.2f%% (C, lenet5.so)\n", correct, test.count, 100.0 * correct / test.count);
  }
  lenet5_destroy(model);
  idx_free(&test);
  return 0;
}
