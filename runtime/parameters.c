#include "kiln_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kiln_parameter_find(const kiln_parameter_table *table, const char *name) {
  if (table == NULL || name == NULL) return -1;
  for (size_t i = 0; i < table->model_count; i++)
    if (strcmp(table->names[table->model[i]], name) == 0) return table->model[i];
  return -1;
}

void kiln_parameters_unpack(const kiln_parameter_table *table, float *buffer, const float *blob) {
  for (size_t i = 0; i < table->embedded_count; i++) {
    int p = table->embedded[i];
    memcpy(buffer + table->offsets[p], blob, table->sizes[p] * sizeof(float));
    blob += table->sizes[p];
  }
}

/* Reads or writes (`transfer`) the model's parameters in `buffer` as the tensors of a safetensors file. */
static kiln_status transfer_model_tensors(
  const kiln_parameter_table *table, float *buffer, const char *path, char *error, size_t error_size,
  kiln_status (*transfer)(const char *, const kiln_tensor *, size_t, char *, size_t)) {
  kiln_tensor *tensors = calloc(table->model_count + 1, sizeof *tensors);
  if (tensors == NULL) return (kiln_status)kiln_fail(error, error_size, KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path ? path : "(null)");
  for (size_t i = 0; i < table->model_count; i++) {
    int p = table->model[i];
    tensors[i].name = table->names[p];
    tensors[i].shape = table->shapes + table->shape_offsets[p];
    tensors[i].rank = table->ranks[p];
    tensors[i].data = buffer + table->offsets[p];
  }
  kiln_status status = transfer(path, tensors, table->model_count, error, error_size);
  free(tensors);
  return status;
}

kiln_status kiln_parameters_load(const kiln_parameter_table *table, float *buffer, const char *path, char *error, size_t error_size) {
  return transfer_model_tensors(table, buffer, path, error, error_size, kiln_safetensors_load);
}

kiln_status kiln_parameters_save(const kiln_parameter_table *table, float *buffer, const char *path, char *error, size_t error_size) {
  return transfer_model_tensors(table, buffer, path, error, error_size, kiln_safetensors_save);
}

int kiln_fail(char *error, size_t error_size, int status, const char *format, ...) {
  if (error != NULL && error_size > 0) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
  }
  return status;
}
