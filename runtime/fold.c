#include "kiln_runtime.h"

#include <math.h>

void kiln_fold_batch_norms(float *parameters, const kiln_batch_norm_fold *folds, size_t count) {
  if (parameters == NULL || folds == NULL) return;
  for (size_t f = 0; f < count; f++) {
    const kiln_batch_norm_fold *fold = &folds[f];
    for (size_t c = 0; c < fold->channels; c++) {
      // As Kiln's BatchNormFold computes it, operation for operation.
      float scale = parameters[fold->gamma + c] / sqrtf(parameters[fold->variance + c] + fold->epsilon);
      const float *weight = parameters + fold->weight + c * fold->per_channel;
      float *folded = parameters + fold->folded_weight + c * fold->per_channel;
      for (size_t i = 0; i < fold->per_channel; i++) folded[i] = weight[i] * scale;
      float bias = fold->bias == KILN_NO_BIAS ? 0.0f : parameters[fold->bias + c];
      float shifted = (bias - parameters[fold->mean + c]) * scale;
      parameters[fold->folded_bias + c] = shifted + parameters[fold->beta + c];
    }
  }
}
