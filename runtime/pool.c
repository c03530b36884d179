/* A small thread pool for compiled kernels' parallel loops.
 *
 * A loop's iterations are cut into pieces (PIECES_PER_THREAD per thread) that the threads take in
 * turn from a shared counter, so a thread that finishes early takes more: the iterations of a
 * convolution's loop often differ in cost (a last, shorter chunk of columns; edge tiles), and one
 * contiguous chunk per thread left one thread idle for up to half of such a loop (MobileNet v2's
 * 16 -> 96 pointwise layer at 112x112: 2.8 against 1.4 % of the samples). Which thread runs an
 * iteration never changes what it computes (iterations write disjoint memory), so results do not
 * depend on the thread count or the schedule.
 *
 * A model's kernels run dozens of parallel loops per run, often a few tens of microseconds
 * apart; waking a sleeping thread takes about as long on a virtual machine. So the workers and
 * the caller spin for a while (SPIN_ROUNDS pauses, about 0.1-0.3 ms) before they sleep on the
 * condition variables, which remain for the idle pool; and the caller waits for the loop's
 * iterations, not for the workers, so a worker still waking up delays nothing. */
#include "kiln_runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PAUSE() _mm_pause()
#else
#define PAUSE() ((void)0)
#endif

enum { SPIN_ROUNDS = 4096, PIECES_PER_THREAD = 8 };

/* The cursor word: the loop's generation (mod 2^GENERATION_BITS) above the next unclaimed
 * iteration, so that a claim made for a finished loop fails. */
enum { INDEX_BITS = 40, GENERATION_BITS = 24 };
#define INDEX_MASK ((UINT64_C(1) << INDEX_BITS) - 1)
#define GENERATION_MASK ((UINT64_C(1) << GENERATION_BITS) - 1)

/* One parallel loop. Loops alternate between two of these by generation, so the caller sets up
 * the next loop while a late worker may still read the last one (its claims then fail). The
 * fields are atomic (relaxed: the cursor's release and acquire order them) because such a late
 * read may overlap the caller's writes two loops on. */
typedef struct loop {
  _Atomic(kiln_task) task;
  _Atomic(void *) context;
  _Atomic int64_t count, piece;
} loop;

struct kiln_pool {
  int threads;
  pthread_t *workers;
  pthread_mutex_t lock;
  pthread_cond_t start, done;
  /* The current loop's generation (workers see each one once), its next unclaimed iteration, and
   * how many of its iterations have finished. */
  _Atomic uint64_t generation, cursor;
  _Atomic int64_t finished;
  atomic_int stopping;
  loop loops[2];
  /* The other processes of a data-parallel job (all_reduce_sum NULL: none). */
  kiln_communicator communicator;
};

/* Claims and runs pieces of loop `generation` until none is left or another loop has begun. The
 * loop's settings are read before the claim and used only when it succeeds, which proves they
 * were that loop's: the caller rewrites them only two loops later. */
static void run_pieces(kiln_pool *pool, uint64_t generation) {
  loop *current = &pool->loops[generation & 1];
  for (;;) {
    uint64_t word = atomic_load(&pool->cursor);
    if ((word >> INDEX_BITS) != (generation & GENERATION_MASK)) return;
    int64_t begin = (int64_t)(word & INDEX_MASK), count = atomic_load_explicit(&current->count, memory_order_relaxed);
    int64_t piece = atomic_load_explicit(&current->piece, memory_order_relaxed);
    kiln_task task = atomic_load_explicit(&current->task, memory_order_relaxed);
    void *context = atomic_load_explicit(&current->context, memory_order_relaxed);
    if (begin >= count) return;
    if (!atomic_compare_exchange_weak(&pool->cursor, &word, word + (uint64_t)piece)) continue;
    int64_t end = begin + piece < count ? begin + piece : count;
    task(context, begin, end);
    if (atomic_fetch_add(&pool->finished, end - begin) + (end - begin) == count) {
      pthread_mutex_lock(&pool->lock);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->lock);
    }
  }
}

/* Whether a loop after `seen` (or the end) comes within SPIN_ROUNDS pauses. */
static int spin_for_loop(kiln_pool *pool, uint64_t seen) {
  for (int round = 0; round < SPIN_ROUNDS; round++) {
    if (atomic_load(&pool->generation) != seen || atomic_load(&pool->stopping)) return 1;
    PAUSE();
  }
  return 0;
}

/* Whether all `count` iterations of the current loop finish within SPIN_ROUNDS pauses. */
static int spin_for_pieces(kiln_pool *pool, int64_t count) {
  for (int round = 0; round < SPIN_ROUNDS; round++) {
    if (atomic_load(&pool->finished) == count) return 1;
    PAUSE();
  }
  return 0;
}

static void *work(void *raw) {
  kiln_pool *pool = raw;
  uint64_t seen = 0;
  for (;;) {
    if (!spin_for_loop(pool, seen)) {
      pthread_mutex_lock(&pool->lock);
      while (!atomic_load(&pool->stopping) && atomic_load(&pool->generation) == seen) pthread_cond_wait(&pool->start, &pool->lock);
      pthread_mutex_unlock(&pool->lock);
    }
    if (atomic_load(&pool->stopping)) break;
    seen = atomic_load(&pool->generation);
    run_pieces(pool, seen);
  }
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
    if (pthread_create(&pool->workers[i], NULL, work, pool) != 0) {
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
  atomic_store(&pool->stopping, 1);
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
  /* The loop's settings, its cursor (which publishes them), then its generation (which wakes
   * the workers). Only this thread writes them, one loop at a time. */
  uint64_t generation = atomic_load(&pool->generation) + 1;
  loop *next = &pool->loops[generation & 1];
  int64_t pieces = (int64_t)pool->threads * PIECES_PER_THREAD;
  atomic_store_explicit(&next->task, task, memory_order_relaxed);
  atomic_store_explicit(&next->context, context, memory_order_relaxed);
  atomic_store_explicit(&next->count, count, memory_order_relaxed);
  atomic_store_explicit(&next->piece, (count + pieces - 1) / pieces, memory_order_relaxed);
  atomic_store(&pool->finished, 0);
  atomic_store(&pool->cursor, (generation & GENERATION_MASK) << INDEX_BITS);
  pthread_mutex_lock(&pool->lock);
  atomic_store(&pool->generation, generation);
  pthread_cond_broadcast(&pool->start);
  pthread_mutex_unlock(&pool->lock);
  /* The caller works too, and returns once every iteration is done: a worker that wakes late
   * finds nothing left and is not waited for. */
  run_pieces(pool, generation);
  if (spin_for_pieces(pool, count)) return;
  pthread_mutex_lock(&pool->lock);
  while (atomic_load(&pool->finished) < count) pthread_cond_wait(&pool->done, &pool->lock);
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
