/* Reading and writing safetensors files (an 8-byte little-endian header length, a JSON header,
 * raw little-endian data) for compiled models. The reader runs inside other people's programs on
 * files they may not control, so it is strict JSON, iterative (no recursion), bounded (header
 * size, nesting depth, rank) and checks every size it computes; the whole header is validated
 * before any tensor's data is read. */
#define _GNU_SOURCE
#include "kiln_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
  MAX_HEADER = 100 << 20, /* the limit of the safetensors reference implementation */
  MAX_DEPTH = 64,         /* nesting of __metadata__ values */
  MAX_RANK = 16
};

static kiln_status failf(char *error, size_t size, kiln_status status, const char *format, ...) {
  if (error && size) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, size, format, arguments);
    va_end(arguments);
  }
  return status;
}

/* A position in the header, and room for the last string read (decoded, NUL-terminated; a
 * decoded string is never longer than its JSON text, so the header's length suffices). */
typedef struct scanner {
  const char *at, *end;
  char *text;
} scanner;

static void skip_space(scanner *s) {
  while (s->at < s->end && (*s->at == ' ' || *s->at == '\n' || *s->at == '\t' || *s->at == '\r')) s->at++;
}

static int expect(scanner *s, char c) {
  skip_space(s);
  if (s->at < s->end && *s->at == c) {
    s->at++;
    return 1;
  }
  return 0;
}

/* Four hex digits of a \u escape. */
static int read_hex4(scanner *s, unsigned *code) {
  if (s->end - s->at < 4) return 0;
  *code = 0;
  for (int i = 0; i < 4; i++) {
    char c = *s->at++;
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return 0;
    *code = *code << 4 | (unsigned)digit;
  }
  return 1;
}

/* Writes code point `code` as UTF-8 at `out`; returns the end. */
static char *put_utf8(char *out, unsigned code) {
  if (code < 0x80) {
    *out++ = (char)code;
  } else if (code < 0x800) {
    *out++ = (char)(0xC0 | code >> 6);
    *out++ = (char)(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    *out++ = (char)(0xE0 | code >> 12);
    *out++ = (char)(0x80 | (code >> 6 & 0x3F));
    *out++ = (char)(0x80 | (code & 0x3F));
  } else {
    *out++ = (char)(0xF0 | code >> 18);
    *out++ = (char)(0x80 | (code >> 12 & 0x3F));
    *out++ = (char)(0x80 | (code >> 6 & 0x3F));
    *out++ = (char)(0x80 | (code & 0x3F));
  }
  return out;
}

/* A JSON string into s->text with every escape decoded; fails on raw control characters, bad
 * escapes, lone surrogates and \u0000 (names are C strings). */
static int read_string(scanner *s) {
  if (!expect(s, '"')) return 0;
  char *out = s->text;
  while (s->at < s->end) {
    unsigned char c = (unsigned char)*s->at++;
    if (c == '"') {
      *out = 0;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c != '\\') {
      *out++ = (char)c;
      continue;
    }
    if (s->at >= s->end) return 0;
    unsigned code;
    switch (*s->at++) {
    case '"': *out++ = '"'; break;
    case '\\': *out++ = '\\'; break;
    case '/': *out++ = '/'; break;
    case 'b': *out++ = '\b'; break;
    case 'f': *out++ = '\f'; break;
    case 'n': *out++ = '\n'; break;
    case 'r': *out++ = '\r'; break;
    case 't': *out++ = '\t'; break;
    case 'u':
      if (!read_hex4(s, &code) || code == 0 || (code >= 0xDC00 && code < 0xE000)) return 0;
      if (code >= 0xD800 && code < 0xDC00) {
        unsigned low;
        if (s->end - s->at < 2 || s->at[0] != '\\' || s->at[1] != 'u') return 0;
        s->at += 2;
        if (!read_hex4(s, &low) || low < 0xDC00 || low >= 0xE000) return 0;
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      }
      out = put_utf8(out, code);
      break;
    default: return 0;
    }
  }
  return 0;
}

/* A non-negative JSON integer (shapes and offsets), without overflow. */
static int read_integer(scanner *s, int64_t *value) {
  skip_space(s);
  const char *at = s->at;
  if (at >= s->end || *at < '0' || *at > '9') return 0;
  if (*at == '0' && at + 1 < s->end && at[1] >= '0' && at[1] <= '9') return 0;
  int64_t v = 0;
  for (; at < s->end && *at >= '0' && *at <= '9'; at++) {
    int digit = *at - '0';
    if (v > (INT64_MAX - digit) / 10) return 0;
    v = v * 10 + digit;
  }
  if (at < s->end && (*at == '.' || *at == 'e' || *at == 'E')) return 0;
  s->at = at;
  *value = v;
  return 1;
}

/* A number, true, false or null. */
static int skip_scalar(scanner *s) {
  static const char *const words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t length = strlen(words[i]);
    if ((size_t)(s->end - s->at) >= length && memcmp(s->at, words[i], length) == 0) {
      s->at += length;
      return 1;
    }
  }
  const char *start = s->at;
  while (s->at < s->end && *s->at && strchr("-+.eE0123456789", *s->at)) s->at++;
  return s->at > start;
}

/* Skips any JSON value (__metadata__, unknown keys) with an explicit stack of open brackets. */
static int skip_value(scanner *s) {
  char open[MAX_DEPTH];
  int depth = 0;
  for (;;) {
    skip_space(s);
    if (s->at >= s->end) return 0;
    char c = *s->at;
    if (c == '{' || c == '[') {
      if (depth == MAX_DEPTH) return 0;
      s->at++;
      open[depth++] = c;
      if (expect(s, c == '{' ? '}' : ']')) {
        depth--;
      } else {
        if (c == '{' && (!read_string(s) || !expect(s, ':'))) return 0;
        continue;
      }
    } else if (!(c == '"' ? read_string(s) : skip_scalar(s))) {
      return 0;
    }
    /* After a value: close brackets until a comma opens the next value. */
    for (;;) {
      if (depth == 0) return 1;
      if (expect(s, ',')) {
        if (open[depth - 1] == '{' && (!read_string(s) || !expect(s, ':'))) return 0;
        break;
      }
      if (!expect(s, open[depth - 1] == '{' ? '}' : ']')) return 0;
      depth--;
    }
  }
}

/* Up to `limit` integers of a JSON array; their number in `*count`. */
static int read_integers(scanner *s, int64_t *values, int limit, int *count) {
  *count = 0;
  if (!expect(s, '[')) return 0;
  if (expect(s, ']')) return 1;
  do {
    if (*count == limit || !read_integer(s, &values[*count])) return 0;
    (*count)++;
  } while (expect(s, ','));
  return expect(s, ']');
}

/* `[2, 3]`: a shape of at most MAX_RANK dimensions, written into `out` (MAX_RANK * 21 + 3 bytes). */
static const char *format_shape(char *out, const int64_t *shape, int rank) {
  char *at = out + sprintf(out, "[");
  for (int i = 0; i < rank; i++) at += sprintf(at, "%s%lld", i ? ", " : "", (long long)shape[i]);
  sprintf(at, "]");
  return out;
}

/* Where one tensor's bytes lie in the data section. */
typedef struct span {
  int64_t begin, end;
  size_t tensor;
} span;

static int by_begin(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Parses and checks the header against `tensors`: every span in `spans` (indexed by tensor). */
static kiln_status parse_header(const char *path, scanner *s, const kiln_tensor *tensors, size_t count, uint64_t data_size, span *spans,
                                char *error, size_t error_size) {
  char *found = calloc(count ? count : 1, 1);
  if (!found) return KILN_ERR_OUT_OF_MEMORY;
  kiln_status status = KILN_OK;
#define FAIL(code, ...)                                     \
  do {                                                      \
    status = failf(error, error_size, code, __VA_ARGS__); \
    goto done;                                              \
  } while (0)
  if (!expect(s, '{')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: the header is not a JSON object", path);
  if (!expect(s, '}')) do {
      if (!read_string(s) || !expect(s, ':')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad header (a key is not a valid JSON string)", path);
      if (strcmp(s->text, "__metadata__") == 0) {
        if (!skip_value(s)) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad __metadata__ (not JSON, or nested deeper than %d)", path, MAX_DEPTH);
        continue;
      }
      size_t which = 0;
      while (which < count && strcmp(tensors[which].name, s->text) != 0) which++;
      if (which == count) FAIL(KILN_ERR_SHAPE, "%s: %s is not a parameter of this model; are these weights for another model?", path, s->text);
      const kiln_tensor *t = &tensors[which];
      if (found[which]) FAIL(KILN_ERR_CORRUPT_FILE, "%s: holds %s twice", path, t->name);
      found[which] = 1;
      int64_t shape[MAX_RANK], offsets[2];
      int rank = -1, offset_count = -1, is_f32 = -1;
      char dtype[16] = "";
      if (!expect(s, '{')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: the entry of %s is not a JSON object", path, t->name);
      if (!expect(s, '}')) do {
          if (!read_string(s) || !expect(s, ':')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, t->name);
          if (strcmp(s->text, "dtype") == 0) {
            if (is_f32 >= 0 || !read_string(s)) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad dtype of %s", path, t->name);
            is_f32 = strcmp(s->text, "F32") == 0;
            snprintf(dtype, sizeof dtype, "%s", s->text);
          } else if (strcmp(s->text, "shape") == 0) {
            if (rank >= 0 || !read_integers(s, shape, MAX_RANK, &rank)) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad shape of %s (at most %d non-negative integers)", path, t->name, MAX_RANK);
          } else if (strcmp(s->text, "data_offsets") == 0) {
            if (offset_count >= 0 || !read_integers(s, offsets, 2, &offset_count) || offset_count != 2)
              FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad data_offsets of %s (two non-negative integers)", path, t->name);
          } else if (!skip_value(s)) {
            FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, t->name);
          }
        } while (expect(s, ','));
      if (!expect(s, '}')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad entry %s", path, t->name);
      if (is_f32 < 0 || rank < 0 || offset_count != 2) FAIL(KILN_ERR_CORRUPT_FILE, "%s: the entry of %s needs dtype, shape and data_offsets", path, t->name);
      if (!is_f32) FAIL(KILN_ERR_SHAPE, "%s: %s has dtype %s; this library reads F32 (kiln import or tensor.float() converts)", path, t->name, dtype);
      int same = rank == t->rank;
      for (int i = 0; same && i < rank; i++) same = shape[i] == t->shape[i];
      if (!same) {
        char found_shape[MAX_RANK * 21 + 3], expected_shape[MAX_RANK * 21 + 3];
        FAIL(KILN_ERR_SHAPE, "%s: %s has shape %s but the model's is %s", path, t->name, format_shape(found_shape, shape, rank),
             format_shape(expected_shape, t->shape, t->rank > MAX_RANK ? MAX_RANK : t->rank));
      }
      int64_t bytes = 4;
      for (int i = 0; i < rank; i++)
        if (__builtin_mul_overflow(bytes, shape[i], &bytes)) FAIL(KILN_ERR_CORRUPT_FILE, "%s: the shape of %s overflows", path, t->name);
      if (offsets[1] < offsets[0] || (uint64_t)offsets[1] > data_size)
        FAIL(KILN_ERR_CORRUPT_FILE, "%s: %s spans bytes %lld..<%lld but the data has %llu; is the file truncated?", path, t->name,
             (long long)offsets[0], (long long)offsets[1], (unsigned long long)data_size);
      if (offsets[1] - offsets[0] != bytes)
        FAIL(KILN_ERR_CORRUPT_FILE, "%s: %s needs %lld bytes but spans %lld", path, t->name, (long long)bytes, (long long)(offsets[1] - offsets[0]));
      spans[which] = (span){offsets[0], offsets[1], which};
    } while (expect(s, ','));
  if (!expect(s, '}')) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad header (expected , or } after an entry)", path);
  skip_space(s);
  if (s->at != s->end) FAIL(KILN_ERR_CORRUPT_FILE, "%s: bad header (bytes after the JSON object)", path);
  for (size_t i = 0; i < count; i++)
    if (!found[i]) FAIL(KILN_ERR_SHAPE, "%s: lacks %s", path, tensors[i].name);
  span *sorted = malloc((count ? count : 1) * sizeof *sorted);
  if (!sorted) FAIL(KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  memcpy(sorted, spans, count * sizeof *sorted);
  qsort(sorted, count, sizeof *sorted, by_begin);
  for (size_t i = 1; i < count && status == KILN_OK; i++)
    if (sorted[i].begin < sorted[i - 1].end)
      status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: %s and %s overlap", path, tensors[sorted[i - 1].tensor].name, tensors[sorted[i].tensor].name);
  free(sorted);
#undef FAIL
done:
  free(found);
  return status;
}

kiln_status kiln_safetensors_load(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size) {
  if (error && error_size) error[0] = 0;
  if (!path || (!tensors && count)) return failf(error, error_size, KILN_ERR_INVALID_ARGUMENT, "no path or tensors given");
  FILE *file = fopen(path, "rb");
  if (!file) return failf(error, error_size, KILN_ERR_IO, "%s: cannot be opened", path);
  struct stat info;
  unsigned char length[8];
  char *header = NULL, *text = NULL;
  span *spans = NULL;
  kiln_status status = KILN_OK;
  if (fstat(fileno(file), &info) != 0 || !S_ISREG(info.st_mode)) {
    status = failf(error, error_size, KILN_ERR_IO, "%s: is not a regular file", path);
    goto done;
  }
  uint64_t file_size = (uint64_t)info.st_size, header_length = 0;
  if (file_size < 8 || fread(length, 1, 8, file) != 8) {
    status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: %llu bytes is too short for a safetensors file", path, (unsigned long long)file_size);
    goto done;
  }
  for (int i = 7; i >= 0; i--) header_length = header_length << 8 | length[i];
  if (header_length > file_size - 8 || header_length > MAX_HEADER) {
    status = failf(error, error_size, KILN_ERR_CORRUPT_FILE, "%s: the header claims %llu bytes but the file has %llu after the length (at most %d); is it truncated?",
                   path, (unsigned long long)header_length, (unsigned long long)(file_size - 8), MAX_HEADER);
    goto done;
  }
  header = malloc(header_length + 1);
  text = malloc(header_length + 1);
  spans = calloc(count ? count : 1, sizeof *spans);
  if (!header || !text || !spans) {
    status = failf(error, error_size, KILN_ERR_OUT_OF_MEMORY, "%s: no memory for a header of %llu bytes", path, (unsigned long long)header_length);
    goto done;
  }
  if (fread(header, 1, header_length, file) != header_length) {
    status = failf(error, error_size, KILN_ERR_IO, "%s: cannot be read", path);
    goto done;
  }
  scanner s = {header, header + header_length, text};
  status = parse_header(path, &s, tensors, count, file_size - 8 - header_length, spans, error, error_size);
  for (size_t i = 0; status == KILN_OK && i < count; i++) {
    size_t bytes = (size_t)(spans[i].end - spans[i].begin);
    if (fseek(file, (long)(8 + header_length + (uint64_t)spans[i].begin), SEEK_SET) != 0 || fread(tensors[i].data, 1, bytes, file) != bytes)
      status = failf(error, error_size, KILN_ERR_IO, "%s: cannot read the data of %s", path, tensors[i].name);
  }
done:
  free(spans);
  free(text);
  free(header);
  fclose(file);
  return status;
}

/* A growing byte buffer for the header. */
typedef struct buffer {
  char *bytes;
  size_t used, capacity;
  int failed;
} buffer;

static void append(buffer *b, const char *bytes, size_t size) {
  if (b->failed) return;
  if (b->capacity - b->used < size) {
    size_t capacity = b->capacity ? b->capacity : 256;
    while (capacity - b->used < size) {
      if (capacity > SIZE_MAX / 2) { b->failed = 1; return; }
      capacity *= 2;
    }
    char *grown = realloc(b->bytes, capacity);
    if (!grown) { b->failed = 1; return; }
    b->bytes = grown;
    b->capacity = capacity;
  }
  memcpy(b->bytes + b->used, bytes, size);
  b->used += size;
}

static void append_text(buffer *b, const char *text) { append(b, text, strlen(text)); }

/* `text` as a JSON string: quotes, backslashes and control characters escaped. */
static void append_json_string(buffer *b, const char *text) {
  append_text(b, "\"");
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    char escaped[8];
    if (*c == '"' || *c == '\\') {
      snprintf(escaped, sizeof escaped, "\\%c", *c);
    } else if (*c < 0x20) {
      snprintf(escaped, sizeof escaped, "\\u%04x", *c);
    } else {
      escaped[0] = (char)*c;
      escaped[1] = 0;
    }
    append_text(b, escaped);
  }
  append_text(b, "\"");
}

kiln_status kiln_safetensors_save(const char *path, const kiln_tensor *tensors, size_t count, char *error, size_t error_size) {
  if (!path || (!tensors && count)) return failf(error, error_size, KILN_ERR_INVALID_ARGUMENT, "no path or tensors given");
  buffer header = {0};
  append_text(&header, "{");
  uint64_t offset = 0;
  size_t *sizes = calloc(count ? count : 1, sizeof *sizes);
  if (!sizes) return failf(error, error_size, KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  for (size_t i = 0; i < count; i++) {
    char number[64];
    append_text(&header, i ? "," : "");
    append_json_string(&header, tensors[i].name);
    append_text(&header, ":{\"dtype\":\"F32\",\"shape\":[");
    sizes[i] = 4;
    for (int d = 0; d < tensors[i].rank; d++) {
      sizes[i] *= (size_t)tensors[i].shape[d];
      snprintf(number, sizeof number, "%s%lld", d ? "," : "", (long long)tensors[i].shape[d]);
      append_text(&header, number);
    }
    snprintf(number, sizeof number, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset, (unsigned long long)(offset + sizes[i]));
    append_text(&header, number);
    offset += sizes[i];
  }
  append_text(&header, "}");
  while (header.used % 8) append_text(&header, " ");
  kiln_status status = header.failed ? failf(error, error_size, KILN_ERR_OUT_OF_MEMORY, "%s: out of memory", path) : KILN_OK;
  kiln_atomic_file file;
  if (status == KILN_OK) status = kiln_atomic_file_open(&file, path, error, error_size);
  if (status == KILN_OK) {
    unsigned char length[8];
    for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)header.used >> (8 * i));
    status = kiln_atomic_file_write(&file, length, 8, error, error_size);
    if (status == KILN_OK) status = kiln_atomic_file_write(&file, header.bytes, header.used, error, error_size);
    for (size_t i = 0; status == KILN_OK && i < count; i++) status = kiln_atomic_file_write(&file, tensors[i].data, sizes[i], error, error_size);
    if (status == KILN_OK) status = kiln_atomic_file_commit(&file, error, error_size);
    else kiln_atomic_file_abort(&file);
  }
  free(sizes);
  free(header.bytes);
  return status;
}
