/* Two threads save weights to one path while a third loads it: every save succeeds, every load
 * sees one whole file (all values from one writer), and no temporary file is left behind.
 * Usage: concurrent_saves PATH SAVES_PER_THREAD */
#include "kiln_runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { VALUES = 4096 };
static const int64_t shape[] = {VALUES};
static const char *path;
static int saves, done;
static int failures[3], torn;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *writer(void *argument) {
  int which = (int)(size_t)argument;
  static float values[2][VALUES];
  for (int i = 0; i < VALUES; i++) values[which][i] = (float)(which + 1);
  kiln_tensor tensor = {"w", shape, 1, values[which]};
  for (int n = 0; n < saves; n++) {
    char error[256];
    if (kiln_safetensors_save(path, &tensor, 1, error, sizeof error) != KILN_OK) {
      pthread_mutex_lock(&lock);
      if (failures[which]++ == 0) fprintf(stderr, "save failed: %s\n", error);
      pthread_mutex_unlock(&lock);
    }
  }
  return NULL;
}

static void *reader(void *argument) {
  (void)argument;
  static float values[VALUES];
  kiln_tensor tensor = {"w", shape, 1, values};
  for (;;) {
    pthread_mutex_lock(&lock);
    int finished = done;
    pthread_mutex_unlock(&lock);
    if (finished) return NULL;
    char error[256];
    if (kiln_safetensors_load(path, &tensor, 1, error, sizeof error) != KILN_OK) {
      if (failures[2]++ == 0) fprintf(stderr, "load failed: %s\n", error);
      continue;
    }
    for (int i = 1; i < VALUES; i++)
      if (values[i] != values[0]) { torn++; break; }
  }
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  path = argv[1];
  saves = atoi(argv[2]);
  static float first[VALUES];
  kiln_tensor tensor = {"w", shape, 1, first};
  if (kiln_safetensors_save(path, &tensor, 1, NULL, 0) != KILN_OK) return 1;
  pthread_t threads[3];
  pthread_create(&threads[2], NULL, reader, NULL);
  for (size_t i = 0; i < 2; i++) pthread_create(&threads[i], NULL, writer, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  pthread_mutex_lock(&lock);
  done = 1;
  pthread_mutex_unlock(&lock);
  pthread_join(threads[2], NULL);
  printf("%d saves per thread: %d and %d failed, %d loads failed, %d torn\n", saves, failures[0], failures[1], failures[2], torn);
  return 0;
}
