/* A small thread pool for compiled kernels' parallel loops: static, deterministic chunks. */
#include "kiln_runtime.h"

#include <pthread.h>
#include <stdlib.h>

struct kiln_pool {
  int threads;
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t start, done;
  /* The current loop; `generation` counts loops so workers see each one once. */
  uint64_t generation;
  int pending;
  int stopping;
  kiln_task task;
  void *context;
  int64_t count;
  /* The other processes of a data-parallel job (all_reduce_sum NULL: none). */
  kiln_communicator communicator;
};

typedef struct worker_argument {
  kiln_pool *pool;
  int index;
} worker_argument;

/* The chunk of thread `index`: [count·index/threads, count·(index+1)/threads). */
static void run_chunk(kiln_pool *pool, int index) {
  int64_t begin = pool->count * index / pool->threads, end = pool->count * (index + 1) / pool->threads;
  if (begin < end) pool->task(pool->context, begin, end);
}

static void *work(void *raw) {
  worker_argument argument = *(worker_argument *)raw;
  free(raw);
  kiln_pool *pool = argument.pool;
  uint64_t seen = 0;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    while (!pool->stopping && pool->generation == seen) pthread_cond_wait(&pool->start, &pool->lock);
    if (pool->stopping) break;
    seen = pool->generation;
    pthread_mutex_unlock(&pool->lock);
    run_chunk(pool, argument.index);
    pthread_mutex_lock(&pool->lock);
    if (--pool->pending == 0) pthread_cond_signal(&pool->done);
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

kiln_status kiln_pool_create(kiln_pool **result, int threads) {
  if (!result || threads < 1) return KILN_ERR_INVALID_ARGUMENT;
  *result = NULL;
  kiln_pool *pool = calloc(1, sizeof *pool);
  if (!pool) return KILN_ERR_OUT_OF_MEMORY;
  pool->threads = threads;
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->start, NULL);
  pthread_cond_init(&pool->done, NULL);
  pool->workers = calloc((size_t)threads, sizeof *pool->workers);
  if (!pool->workers) { free(pool); return KILN_ERR_OUT_OF_MEMORY; }
  for (int i = 1; i < threads; i++) {
    worker_argument *argument = malloc(sizeof *argument);
    if (!argument) { pool->threads = i; kiln_pool_destroy(pool); return KILN_ERR_OUT_OF_MEMORY; }
    argument->pool = pool;
    argument->index = i;
    if (pthread_create(&pool->workers[i], NULL, work, argument) != 0) {
      free(argument);
      pool->threads = i;
      kiln_pool_destroy(pool);
      return KILN_ERR_OUT_OF_MEMORY;
    }
  }
  *result = pool;
  return KILN_OK;
}

void kiln_pool_destroy(kiln_pool *pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = 1;
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->lock);
  for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->start);
  pthread_cond_destroy(&pool->done);
  free(pool->workers);
  free(pool);
}

int kiln_pool_threads(const kiln_pool *pool) { return pool ? pool->threads : 1; }

void kiln_parallel_for(kiln_pool *pool, int64_t count, kiln_task task, void *context) {
  if (count <= 0) return;
  if (!pool || pool->threads == 1 || count < pool->threads) {
    task(context, 0, count);
    return;
  }
  pthread_mutex_lock(&pool->lock);
  pool->task = task;
  pool->context = context;
  pool->count = count;
  pool->pending = pool->threads - 1;
  pool->generation++;
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->lock);
  run_chunk(pool, 0);
  pthread_mutex_lock(&pool->lock);
  while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->lock);
  pthread_mutex_unlock(&pool->lock);
}

kiln_status kiln_pool_set_communicator(kiln_pool *pool, const kiln_communicator *communicator) {
  if (!pool || (communicator && !communicator->all_reduce_sum)) return KILN_ERR_INVALID_ARGUMENT;
  pool->communicator = communicator ? *communicator : (kiln_communicator){0};
  return KILN_OK;
}

kiln_status kiln_all_reduce(kiln_pool *pool, float *values, int64_t count, float weight) {
  if (!values || count < 0) return KILN_ERR_INVALID_ARGUMENT;
  if (weight != 1)
    for (int64_t i = 0; i < count; i++) values[i] *= weight;
  if (!pool || !pool->communicator.all_reduce_sum) return KILN_OK;
  return pool->communicator.all_reduce_sum(pool->communicator.state, values, (size_t)count) == 0 ? KILN_OK : KILN_ERR_COMMUNICATION;
}
