/* The contexts of compiled models' libraries: everything their exported functions do, over the
 * constant tables (kiln_model) each library generates. */
#include "kiln_runtime.h"

#include <stdlib.h>
#include <string.h>

#define FAIL(context, status, ...) kiln_fail((context)->error, sizeof (context)->error, (status), __VA_ARGS__)

/* The slots of `program` bound to the context's parameters; false when out of memory. */
static int bind(kiln_context *context, const kiln_program_table *program, kiln_arena *arena, float ***slots) {
  if (kiln_arena_init(arena, program->arena_bytes, 64) != KILN_OK) return 0;
  *slots = calloc(program->slot_count + 1, sizeof **slots);
  if (*slots == NULL) return 0;
  for (size_t i = 0; i < program->binding_count; i++) (*slots)[program->bindings[i].slot] = context->parameters + program->bindings[i].offset;
  return 1;
}

/* A context with the embedded parameters (the rest zero). */
static kiln_status create(const kiln_model *model, kiln_context **result) {
  if (model == NULL || result == NULL) return KILN_ERR_INVALID_ARGUMENT;
  *result = NULL;
  kiln_blas_prepare();
  kiln_context *context = calloc(1, sizeof *context);
  if (context == NULL) return KILN_ERR_OUT_OF_MEMORY;
  context->model = model;
  context->folds_stale = 1;
  int ready = kiln_arena_init(&context->parameter_block, (model->parameter_floats + 1) * sizeof(float), 64) == KILN_OK;
  if (ready) {
    context->parameters = (float *)context->parameter_block.base;
    kiln_parameters_unpack(&model->parameters, context->parameters, model->weights);
    ready = bind(context, &model->infer, &context->arena, &context->infer_slots);
  }
  if (ready && model->train.entry != NULL) {
    context->logits = calloc(model->logits_count + 1, sizeof(float));
    ready = context->logits != NULL && bind(context, &model->train, &context->train_arena, &context->train_slots);
    if (ready) context->train_slots[model->logits_slot] = context->logits;
  }
  if (!ready) {
    kiln_context_destroy(context);
    return KILN_ERR_OUT_OF_MEMORY;
  }
  *result = context;
  return KILN_OK;
}

kiln_status kiln_context_create(const kiln_model *model, kiln_context **result) {
  if (model != NULL && !model->embeds_model_weights) {
    if (result) *result = NULL;
    return KILN_ERR_INVALID_ARGUMENT;
  }
  return create(model, result);
}

kiln_status kiln_context_create_from_file(const kiln_model *model, kiln_context **result, const char *path, char *error, size_t error_size) {
  if (error && error_size) error[0] = 0;
  kiln_status status = create(model, result);
  if (status != KILN_OK)
    return (kiln_status)kiln_fail(error, error_size, status, "%s_create_from_file: %s", model ? model->prefix : "kiln", kiln_status_string(status));
  status = kiln_parameters_load(&model->parameters, (*result)->parameters, path, error, error_size);
  if (status != KILN_OK) {
    kiln_context_destroy(*result);
    *result = NULL;
  }
  return status;
}

void kiln_context_destroy(kiln_context *context) {
  if (context == NULL) return;
  kiln_pool_destroy(context->pool);
  kiln_arena_free(&context->arena);
  kiln_arena_free(&context->train_arena);
  kiln_arena_free(&context->parameter_block);
  free(context->infer_slots);
  free(context->train_slots);
  free(context->logits);
  free(context);
}

/* The model's weights changed: what the programs derived from them is to be redone. */
static void mark_weights_changed(kiln_context *context) {
  const kiln_model *model = context->model;
  context->folds_stale = 1;
  kiln_arena_mark_stale(&context->arena, model->infer.kept_flags, model->infer.kept_count);
  if (model->train.entry != NULL) kiln_arena_mark_stale(&context->train_arena, model->train.kept_flags, model->train.kept_count);
}

int kiln_context_infer(kiln_context *context) {
  if (context == NULL) return KILN_ERR_INVALID_ARGUMENT;
  const kiln_model *model = context->model;
  context->error[0] = 0;
  if (context->folds_stale) {
    kiln_fold_batch_norms(context->parameters, model->folds, model->fold_count);
    context->folds_stale = 0;
  }
  int status = model->infer.entry((float *)context->arena.base, context->infer_slots, 0, context->pool);
  if (status != KILN_OK)
    return FAIL(context, status, "%s_infer: %s (an embedding index outside its range)", model->prefix, kiln_status_string((kiln_status)status));
  return KILN_OK;
}

int kiln_context_train(kiln_context *context, float *loss) {
  if (context == NULL || context->model->train.entry == NULL) return KILN_ERR_INVALID_ARGUMENT;
  const kiln_model *model = context->model;
  context->error[0] = 0;
  context->train_slots[model->loss_slot] = loss;
  int status = model->train.entry((float *)context->train_arena.base, context->train_slots, context->steps, context->pool);
  /* The step updated the weights the inference entry derives its folded weights and kept memory from. */
  context->folds_stale = 1;
  kiln_arena_mark_stale(&context->arena, model->infer.kept_flags, model->infer.kept_count);
  if (status != KILN_OK)
    return FAIL(
      context, status, "%s_train_step: %s%s", model->prefix, kiln_status_string((kiln_status)status),
      status == KILN_ERR_OUT_OF_RANGE ? " (a class label outside its range)" : "");
  context->steps++;
  return KILN_OK;
}

int kiln_context_get_weights(const kiln_context *context, const char *name, float *values, size_t count) {
  if (context == NULL || values == NULL) return KILN_ERR_INVALID_ARGUMENT;
  const kiln_parameter_table *table = &context->model->parameters;
  int p = kiln_parameter_find(table, name);
  if (p < 0 || count != table->sizes[p]) return KILN_ERR_INVALID_ARGUMENT;
  memcpy(values, context->parameters + table->offsets[p], count * sizeof(float));
  return KILN_OK;
}

int kiln_context_set_weights(kiln_context *context, const char *name, const float *values, size_t count) {
  if (context == NULL) return KILN_ERR_INVALID_ARGUMENT;
  const kiln_model *model = context->model;
  int p = kiln_parameter_find(&model->parameters, name);
  if (p < 0) return FAIL(context, KILN_ERR_INVALID_ARGUMENT, "%s_set_weights: the model has no weights named %s", model->prefix, name ? name : "(null)");
  if (values == NULL) return FAIL(context, KILN_ERR_INVALID_ARGUMENT, "%s_set_weights: the values of %s are NULL", model->prefix, name);
  size_t size = model->parameters.sizes[p];
  if (count != size) return FAIL(context, KILN_ERR_SHAPE, "%s_set_weights: %s holds %zu values, not %zu", model->prefix, name, size, count);
  memcpy(context->parameters + model->parameters.offsets[p], values, count * sizeof(float));
  mark_weights_changed(context);
  return KILN_OK;
}

int kiln_context_save_weights(kiln_context *context, const char *path) {
  if (context == NULL || path == NULL) return KILN_ERR_INVALID_ARGUMENT;
  context->error[0] = 0;
  return kiln_parameters_save(&context->model->parameters, context->parameters, path, context->error, sizeof context->error);
}

/* The pool carries the communicator to the all-reduce of the training step. */
static int attach_communicator(kiln_context *context) {
  if (!context->communicator.all_reduce_sum) return context->pool ? kiln_pool_set_communicator(context->pool, NULL) : KILN_OK;
  if (!context->pool && kiln_pool_create(&context->pool, 1) != KILN_OK) return KILN_ERR_OUT_OF_MEMORY;
  return kiln_pool_set_communicator(context->pool, &context->communicator);
}

int kiln_context_set_threads(kiln_context *context, int threads) {
  if (context == NULL) return KILN_ERR_INVALID_ARGUMENT;
  const char *prefix = context->model->prefix;
  if (threads < 1) return FAIL(context, KILN_ERR_INVALID_ARGUMENT, "%s_set_threads: %d threads; give 1 or more", prefix, threads);
  kiln_pool_destroy(context->pool);
  context->pool = NULL;
  if (threads > 1 && kiln_pool_create(&context->pool, threads) != KILN_OK)
    return FAIL(context, KILN_ERR_OUT_OF_MEMORY, "%s_set_threads: cannot start %d threads", prefix, threads);
  if (attach_communicator(context) != KILN_OK) return FAIL(context, KILN_ERR_OUT_OF_MEMORY, "%s_set_threads: cannot keep the communicator", prefix);
  return KILN_OK;
}

int kiln_context_set_communicator(kiln_context *context, int (*all_reduce_sum)(void *state, float *values, size_t count), void *state) {
  if (context == NULL) return KILN_ERR_INVALID_ARGUMENT;
  context->communicator.all_reduce_sum = all_reduce_sum;
  context->communicator.state = state;
  int status = attach_communicator(context);
  return status == KILN_OK ? KILN_OK : FAIL(context, status, "%s_set_communicator: %s", context->model->prefix, kiln_status_string((kiln_status)status));
}

const char *kiln_context_last_error(const kiln_context *context) { return context ? context->error : "kiln: no context"; }
