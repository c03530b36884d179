/* Reading and writing safetensors files (an 8-byte little-endian header length, a JSON header,
 * raw little-endian data) for compiled models: a small JSON scanner that accepts exactly what the
 * format needs and reports everything else as an error. */
#include "kiln_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static kiln_status failf(char *error, size_t size, kiln_status status, const char *format, ...) {
  if (error && size) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, size, format, arguments);
    va_end(arguments);
  }
  return status;
}

typedef struct scanner {
  const char *at, *end;
} scanner;

static void skip_space(scanner *s) {
  while (s->at < s->end && (*s->at == ' ' || *s->at == '\n' || *s->at == '\t' || *s->at == '\r')) s->at++;
}

static int expect(scanner *s, char c) {
  skip_space(s);
  if (s->at < s->end && *s->at == c) { s->at++; return 1; }
  return 0;
}

/* A JSON string into `out` (escapes other than \" and \\ are kept raw; names never use them). */
static int read_string(scanner *s, char *out, size_t size) {
  if (!expect(s, '"')) return 0;
  size_t n = 0;
  while (s->at < s->end && *s->at != '"') {
    char c = *s->at++;
    if (c == '\\' && s->at < s->end) c = *s->at++;
    if (n + 1 < size) out[n++] = c;
  }
  if (s->at >= s->end) return 0;
  s->at++;
  out[n] = 0;
  return 1;
}

static int read_integer(scanner *s, int64_t *value) {
  skip_space(s);
  char *stop;
  long long v = strtoll(s->at, &stop, 10);
  if (stop == s->at || stop > s->end) return 0;
  s->at = stop;
  *value = v;
  return 1;
}

/* Skips any JSON value (for __metadata__). */
static int skip_value(scanner *s) {
  skip_space(s);
  if (s->at >= s->end) return 0;
  char c = *s->at;
  if (c == '"') { char ignored[8]; return read_string(s, ignored, sizeof ignored); }
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    s->at++;
    if (expect(s, close)) return 1;
    do {
      if (c == '{') { char key[8]; if (!read_string(s, key, sizeof key) || !expect(s, ':')) return 0; }
      if (!skip_value(s)) return 0;
    } while (expect(s, ','));
    return expect(s, close);
  }
  while (s->at < s->end && *s->at != ',' && *s->at != '}' && *s->at != ']') s->at++;
  return 1;
}

kiln_status kiln_safetensors_load(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size) {
  if (!path || (!tensors && count)) return failf(error, error_size, KILN_ERR_INVALID_ARGUMENT, "no path or tensors given");
  FILE *file = fopen(path, "rb");
  if (!file) return failf(error, error_size, KILN_ERR_IO, "%s: cannot be opened", path);
  fseek(file, 0, SEEK_END);
  long file_size = ftell(file);
  fseek(file, 0, SEEK_SET);
  unsigned char *bytes = file_size > 0 ? malloc((size_t)file_size) : NULL;
  if (!bytes || fread(bytes, 1, (size_t)file_size, file) != (size_t)file_size) {
    fclose(file);
    free(bytes);
    return failf(error, error_size, KILN_ERR_IO, "%s: cannot be read", path);
  }
  fclose(file);
  kiln_status status = KILN_OK;
  int *found = calloc(count ? count : 1, sizeof *found);
  uint64_t header_length = 0;
  for (int i = 7; i >= 0 && file_size >= 8; i--) header_length = header_length << 8 | bytes[i];
  if (file_size < 8 || header_length > (uint64_t)file_size - 8) {
    status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: truncated (header length %llu, file %ld bytes)", path, (unsigned long long)header_length, file_size);
    goto done;
  }
  const unsigned char *data = bytes + 8 + header_length;
  size_t data_size = (size_t)file_size - 8 - (size_t)header_length;
  scanner s = {(const char *)bytes + 8, (const char *)bytes + 8 + header_length};
  if (!expect(&s, '{')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: the header is not a JSON object", path); goto done; }
  if (!expect(&s, '}')) do {
    char name[512];
    if (!read_string(&s, name, sizeof name) || !expect(&s, ':')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad header", path); goto done; }
    if (strcmp(name, "__metadata__") == 0) {
      if (!skip_value(&s)) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad metadata", path); goto done; }
      continue;
    }
    char dtype[16] = "";
    int64_t shape[16], offsets[2] = {-1, -1};
    int rank = -1;
    if (!expect(&s, '{')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, name); goto done; }
    do {
      char key[32];
      if (!read_string(&s, key, sizeof key) || !expect(&s, ':')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, name); goto done; }
      if (strcmp(key, "dtype") == 0) {
        if (!read_string(&s, dtype, sizeof dtype)) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad dtype of %s", path, name); goto done; }
      } else if (strcmp(key, "shape") == 0 || strcmp(key, "data_offsets") == 0) {
        int is_shape = key[0] == 's', n = 0;
        if (!expect(&s, '[')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad %s of %s", path, key, name); goto done; }
        if (!expect(&s, ']')) {
          do {
            int64_t v;
            if (!read_integer(&s, &v) || n >= (is_shape ? 16 : 2)) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad %s of %s", path, key, name); goto done; }
            if (is_shape) shape[n++] = v; else offsets[n++] = v;
          } while (expect(&s, ','));
          if (!expect(&s, ']')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad %s of %s", path, key, name); goto done; }
        }
        if (is_shape) rank = n;
      } else if (!skip_value(&s)) {
        status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, name);
        goto done;
      }
    } while (expect(&s, ','));
    if (!expect(&s, '}')) { status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, name); goto done; }
    size_t which = 0;
    while (which < count && strcmp(tensors[which].name, name) != 0) which++;
    if (which == count) { status = failf(error, error_size, KILN_ERR_SHAPE, "%s: %s is not a parameter of this model; are these weights for another model?", path, name); goto done; }
    const kiln_tensor *t = &tensors[which];
    int same = rank == t->rank && strcmp(dtype, "F32") == 0;
    int64_t elements = 1;
    for (int i = 0; same && i < rank; i++) { same = shape[i] == t->shape[i]; elements *= shape[i]; }
    if (!same) { status = failf(error, error_size, KILN_ERR_SHAPE, "%s: %s is not an F32 tensor of the model's shape", path, name); goto done; }
    if (offsets[0] < 0 || offsets[1] < offsets[0] || (uint64_t)offsets[1] > data_size || offsets[1] - offsets[0] != elements * 4) {
      status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: the data of %s lies outside the file; is it truncated?", path, name);
      goto done;
    }
    memcpy(t->data, data + offsets[0], (size_t)elements * 4);
    found[which] = 1;
  } while (expect(&s, ','));
  for (size_t i = 0; i < count; i++) {
    if (!found[i]) { status = failf(error, error_size, KILN_ERR_SHAPE, "%s: lacks %s", path, tensors[i].name); goto done; }
  }
done:
  free(found);
  free(bytes);
  return status;
}

kiln_status kiln_safetensors_save(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size) {
  if (!path || (!tensors && count)) return failf(error, error_size, KILN_ERR_INVALID_ARGUMENT, "no path or tensors given");
  size_t capacity = 64 + count * 256, used = 0;
  char *header = malloc(capacity);
  if (!header) return KILN_ERR_OUT_OF_MEMORY;
  used += (size_t)snprintf(header, capacity, "{");
  uint64_t offset = 0;
  for (size_t i = 0; i < count; i++) {
    size_t needed = strlen(tensors[i].name) + 128 + (size_t)tensors[i].rank * 24;
    while (capacity - used < needed) {
      capacity *= 2;
      char *grown = realloc(header, capacity);
      if (!grown) { free(header); return KILN_ERR_OUT_OF_MEMORY; }
      header = grown;
    }
    int64_t elements = 1;
    used += (size_t)snprintf(header + used, capacity - used, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", tensors[i].name);
    for (int d = 0; d < tensors[i].rank; d++) {
      elements *= tensors[i].shape[d];
      used += (size_t)snprintf(header + used, capacity - used, "%s%lld", d ? "," : "", (long long)tensors[i].shape[d]);
    }
    used += (size_t)snprintf(header + used, capacity - used, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset, (unsigned long long)(offset + (uint64_t)elements * 4));
    offset += (uint64_t)elements * 4;
  }
  used += (size_t)snprintf(header + used, capacity - used, "}");
  while (used % 8) header[used++] = ' ';
  char temporary[4096];
  snprintf(temporary, sizeof temporary, "%s.tmp-%ld", path, (long)getpid());
  FILE *file = fopen(temporary, "wb");
  if (!file) { free(header); return failf(error, error_size, KILN_ERR_IO, "%s: cannot be written", path); }
  unsigned char length[8];
  for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)used >> (8 * i));
  int ok = fwrite(length, 1, 8, file) == 8 && fwrite(header, 1, used, file) == used;
  for (size_t i = 0; ok && i < count; i++) {
    size_t elements = 1;
    for (int d = 0; d < tensors[i].rank; d++) elements *= (size_t)tensors[i].shape[d];
    ok = fwrite(tensors[i].data, 4, elements, file) == elements;
  }
  free(header);
  if (fclose(file) != 0 || !ok || rename(temporary, path) != 0) {
    remove(temporary);
    return failf(error, error_size, KILN_ERR_IO, "%s: cannot be written", path);
  }
  return KILN_OK;
}
