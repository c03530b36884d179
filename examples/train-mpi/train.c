/* Trains LeNet-5 data-parallel from C under mpirun, with the training step exported by
 * `kiln compile lenet5 --train --batch B --processes N`: every process runs the same shuffled
 * order, trains on its own B images of each global batch of N·B, and the compiled step sums the
 * gradients through MPI_Allreduce (given to the library with lenet5_set_communicator; the library
 * itself does not link MPI). Process 0 reports test accuracy and saves the weights.
 *
 *   mpirun -np N ./train /usr/share/datasets/fashion-mnist weights.safetensors [training images]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../embed-c/idx.h"
#include "lenet5_train.h"

enum { BATCH = LENET5_INPUT_INPUT_SIZE / (32 * 32), CLASSES = LENET5_OUTPUT_FC2_SIZE / BATCH };

/* The communicator the library calls once per step: a sum over MPI_COMM_WORLD, in place. */
static int all_reduce_sum(void *state, float *values, size_t count) {
  (void)state;
  return MPI_Allreduce(MPI_IN_PLACE, values, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 3) {
    if (rank == 0) fprintf(stderr, "usage: mpirun -np N train <fashion-mnist directory> <weights.safetensors> [training images]\n");
    MPI_Finalize();
    return 2;
  }
  idx_set train, test;
  if (idx_load(argv[1], "train", argc > 3 ? (uint32_t)atoi(argv[3]) : 0, &train) != 0 || idx_load(argv[1], "t10k", 0, &test) != 0) MPI_Abort(MPI_COMM_WORLD, 1);
  lenet5_context *model;
  if (lenet5_create(&model) != LENET5_OK || lenet5_set_communicator(model, all_reduce_sum, NULL) != LENET5_OK) {
    fprintf(stderr, "train: cannot create the model\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  /* One epoch in a shuffled order, the same on every process. */
  uint32_t *order = idx_shuffled_order(train.count, 42);
  if (!order) MPI_Abort(MPI_COMM_WORLD, 1);
  static float images[LENET5_INPUT_INPUT_SIZE];
  int32_t labels[BATCH];
  double loss_sum = 0;
  const uint32_t global = (uint32_t)(BATCH * size), batches = train.count / global;
  const double start = MPI_Wtime();
  for (uint32_t b = 0; b < batches; b++) {
    for (int i = 0; i < BATCH; i++) {
      uint32_t n = order[b * global + (uint32_t)(rank * BATCH + i)];
      memcpy(images + (size_t)i * 32 * 32, train.images + (size_t)n * 32 * 32, 32 * 32 * sizeof(float));
      labels[i] = train.labels[n];
    }
    float loss;
    if (lenet5_train_step(model, images, labels, 0.03f, &loss) != LENET5_OK) {
      fprintf(stderr, "train (process %d): %s\n", rank, lenet5_last_error(model));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    loss_sum += loss;
  }
  const double seconds = MPI_Wtime() - start;
  MPI_Allreduce(MPI_IN_PLACE, &loss_sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

  int status = LENET5_OK;
  if (rank == 0) {
    /* Test accuracy over whole batches (every process holds the same weights). */
    static float logits[LENET5_OUTPUT_FC2_SIZE];
    uint32_t correct = 0, seen = 0;
    for (uint32_t b = 0; b + BATCH <= test.count; b += BATCH) {
      if (lenet5_infer(model, test.images + (size_t)b * 32 * 32, logits) != LENET5_OK) MPI_Abort(MPI_COMM_WORLD, 1);
      for (int i = 0; i < BATCH; i++, seen++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c] > logits[i * CLASSES + best]) best = c;
        if (best == test.labels[b + i]) correct++;
      }
    }
    status = lenet5_save_weights(model, argv[2]);
    printf("%d processes trained 1 epoch on %u images (batches of %u) in %.2f s: mean loss %.4f; test accuracy %u/%u = %.2f%%; %s %s\n", size,
           batches * global, global, seconds, loss_sum / batches / size, correct, seen, 100.0 * correct / seen, status == LENET5_OK ? "wrote" : "could not write",
           argv[2]);
  }
  lenet5_destroy(model);
  free(order);
  idx_free(&train);
  idx_free(&test);
  MPI_Finalize();
  return status == LENET5_OK ? 0 : 1;
}
