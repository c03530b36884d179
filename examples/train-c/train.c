/* Trains LeNet-5 for one epoch from C with the training step exported by
 * `kiln compile lenet5 --train --batch 64`, reports test accuracy, and saves weights that kiln
 * loads with --weights.
 *
 *   ./train /usr/share/datasets/fashion-mnist weights.safetensors [training images]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../embed-c/idx.h"
#include "lenet5_train.h"

enum { BATCH = LENET5_INPUT_INPUT_SIZE / (32 * 32), CLASSES = LENET5_OUTPUT_FC2_SIZE / BATCH };

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: train <fashion-mnist directory> <weights.safetensors> [training images]\n"); return 2; }
  idx_set train, test;
  if (idx_load(argv[1], "train", argc > 3 ? (uint32_t)atoi(argv[3]) : 0, &train) != 0 || idx_load(argv[1], "t10k", 0, &test) != 0) return 1;
  lenet5_context *model;
  if (lenet5_create(&model) != LENET5_OK) { fprintf(stderr, "train: cannot create the model\n"); return 1; }

  /* One epoch in a shuffled order. */
  uint32_t *order = idx_shuffled_order(train.count, 42);
  if (!order) { fprintf(stderr, "train: out of memory\n"); return 1; }
  static float images[LENET5_INPUT_INPUT_SIZE];
  int32_t labels[BATCH];
  double loss_sum = 0;
  uint32_t batches = train.count / BATCH;
  for (uint32_t b = 0; b < batches; b++) {
    for (int i = 0; i < BATCH; i++) {
      uint32_t n = order[b * BATCH + i];
      memcpy(images + (size_t)i * 32 * 32, train.images + (size_t)n * 32 * 32, 32 * 32 * sizeof(float));
      labels[i] = train.labels[n];
    }
    float loss;
    if (lenet5_train_step(model, images, labels, 0.03f, &loss) != LENET5_OK) {
      fprintf(stderr, "train: %s\n", lenet5_last_error(model));
      return 1;
    }
    loss_sum += loss;
  }

  /* Test accuracy over whole batches. */
  static float logits[LENET5_OUTPUT_FC2_SIZE];
  uint32_t correct = 0, seen = 0;
  for (uint32_t b = 0; b + BATCH <= test.count; b += BATCH) {
    if (lenet5_infer(model, test.images + (size_t)b * 32 * 32, logits) != LENET5_OK) { fprintf(stderr, "train: %s\n", lenet5_last_error(model)); return 1; }
    for (int i = 0; i < BATCH; i++, seen++) {
      int best = 0;
      for (int c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c] > logits[i * CLASSES + best]) best = c;
      if (best == test.labels[b + i]) correct++;
    }
  }
  int status = lenet5_save_weights(model, argv[2]);
  printf("trained 1 epoch on %u images: mean loss %.4f; test accuracy %u/%u = %.2f%%; %s %s\n", batches * BATCH, loss_sum / batches, correct, seen,
         100.0 * correct / seen, status == LENET5_OK ? "wrote" : "could not write", argv[2]);
  lenet5_destroy(model);
  free(order);
  idx_free(&train);
  idx_free(&test);
  return status == LENET5_OK ? 0 : 1;
}
