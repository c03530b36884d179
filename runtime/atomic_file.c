/* Files written whole or not at all: the bytes go to an unnamed file in the destination's
 * directory (O_TMPFILE), which gets a unique temporary name only once it is complete and synced,
 * and is then renamed over the destination. A process killed mid-write leaves nothing behind.
 * Where the file system has no O_TMPFILE, a unique named temporary (mkstemp) is used instead. */
#define _GNU_SOURCE
#include "kiln_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static kiln_status fail_io(char *error, size_t size, const char *path, const char *what, int number) {
  if (error && size) snprintf(error, size, "%s: cannot %s: %s", path, what, strerror(number));
  return KILN_ERR_IO;
}

/* The directory part of `path` ("." for a bare name), in a new string. */
static char *directory_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  size_t length = (size_t)(slash - path);
  char *directory = malloc(length + 1);
  if (directory) {
    memcpy(directory, path, length);
    directory[length] = 0;
  }
  return directory;
}

kiln_status kiln_atomic_file_open(kiln_atomic_file *file, const char *path, char *error, size_t error_size) {
  if (!file || !path || !*path) return KILN_ERR_INVALID_ARGUMENT;
  memset(file, 0, sizeof *file);
  file->fd = -1;
  file->path = strdup(path);
  char *directory = directory_of(path);
  size_t temporary_size = strlen(path) + 64;
  file->temporary = malloc(temporary_size);
  if (!file->path || !directory || !file->temporary) {
    free(directory);
    kiln_atomic_file_abort(file);
    return KILN_ERR_OUT_OF_MEMORY;
  }
  file->fd = open(directory, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  int number = errno;
  free(directory);
  if (file->fd >= 0) return KILN_OK;
  if (number != EOPNOTSUPP && number != EISDIR && number != EINVAL) {
    kiln_atomic_file_abort(file);
    return fail_io(error, error_size, path, "write a file in its directory", number);
  }
  /* No O_TMPFILE here: a named temporary, unique in the directory. */
  snprintf(file->temporary, temporary_size, "%s.tmp-XXXXXX", path);
  file->fd = mkstemp(file->temporary);
  if (file->fd < 0) {
    number = errno;
    file->temporary[0] = 0;
    kiln_atomic_file_abort(file);
    return fail_io(error, error_size, path, "write a file in its directory", number);
  }
  file->named = 1;
  fchmod(file->fd, 0644);
  return KILN_OK;
}

kiln_status kiln_atomic_file_write(kiln_atomic_file *file, const void *bytes, size_t size, char *error, size_t error_size) {
  if (!file || file->fd < 0 || (!bytes && size)) return KILN_ERR_INVALID_ARGUMENT;
  const unsigned char *at = bytes;
  while (size > 0) {
    ssize_t written = write(file->fd, at, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return fail_io(error, error_size, file->path, "write", written < 0 ? errno : ENOSPC);
    at += written;
    size -= (size_t)written;
  }
  return KILN_OK;
}

kiln_status kiln_atomic_file_commit(kiln_atomic_file *file, char *error, size_t error_size) {
  if (!file || file->fd < 0) return KILN_ERR_INVALID_ARGUMENT;
  kiln_status status = KILN_OK;
  if (fsync(file->fd) != 0) {
    status = fail_io(error, error_size, file->path, "sync", errno);
  } else if (!file->named) {
    /* The unnamed file gets a name unique among all writers: this process and this descriptor,
     * which no other open file has while it is open. */
    char descriptor[64];
    snprintf(descriptor, sizeof descriptor, "/proc/self/fd/%d", file->fd);
    snprintf(file->temporary, strlen(file->path) + 64, "%s.tmp-%ld-%d", file->path, (long)getpid(), file->fd);
    if (linkat(AT_FDCWD, descriptor, AT_FDCWD, file->temporary, AT_SYMLINK_FOLLOW) != 0) {
      status = fail_io(error, error_size, file->path, "link the written file", errno);
      file->temporary[0] = 0;
    } else {
      file->named = 1;
    }
  }
  if (status == KILN_OK && rename(file->temporary, file->path) != 0) status = fail_io(error, error_size, file->path, "rename into place", errno);
  if (status == KILN_OK) file->named = 0; /* renamed: nothing to remove */
  kiln_atomic_file_abort(file);
  return status;
}

void kiln_atomic_file_abort(kiln_atomic_file *file) {
  if (!file) return;
  if (file->fd >= 0) close(file->fd);
  if (file->named && file->temporary && file->temporary[0]) unlink(file->temporary);
  free(file->path);
  free(file->temporary);
  memset(file, 0, sizeof *file);
  file->fd = -1;
}
