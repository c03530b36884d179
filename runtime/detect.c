/* Object detection: decoding a YOLO-style grid into boxes, and greedy non-maximum suppression. */
#include <math.h>

#include "kiln_runtime.h"

static float sigmoid(float x) { return 1 / (1 + expf(-x)); }

kiln_status kiln_yolo_decode(const float *output, const kiln_yolo_grid *grid, float score_threshold, kiln_detection *detections, size_t *count) {
  if (!output || !grid || !detections || !count || grid->cells <= 0 || grid->classes <= 0 || grid->width <= 0 || grid->height <= 0)
    return KILN_ERR_INVALID_ARGUMENT;
  const int64_t plane = (int64_t)grid->cells * grid->cells;
  const float cell_width = (float)grid->width / (float)grid->cells, cell_height = (float)grid->height / (float)grid->cells;
  size_t found = 0;
  for (int64_t cell = 0; cell < plane; cell++) {
    const float *at = output + cell; /* channel c of this cell: at[c * plane] */
    int32_t label = 0;
    float best = at[5 * plane];
    for (int32_t c = 1; c < grid->classes; c++)
      if (at[(5 + c) * plane] > best) best = at[(5 + c) * plane], label = c;
    float sum = 0;
    for (int32_t c = 0; c < grid->classes; c++) sum += expf(at[(5 + c) * plane] - best);
    const float score = sigmoid(at[0]) / sum;
    if (!(score >= score_threshold)) continue;
    const int64_t row = cell / grid->cells, column = cell % grid->cells;
    const float w = sigmoid(at[3 * plane]), h = sigmoid(at[4 * plane]);
    const float center_x = ((float)column + sigmoid(at[plane])) * cell_width, center_y = ((float)row + sigmoid(at[2 * plane])) * cell_height;
    const float width = w * w * (float)grid->width, height = h * h * (float)grid->height;
    kiln_detection *d = &detections[found++];
    d->x0 = center_x - width / 2, d->y0 = center_y - height / 2, d->x1 = center_x + width / 2, d->y1 = center_y + height / 2;
    d->label = label, d->score = score;
  }
  *count = found;
  return KILN_OK;
}

static float area(const kiln_detection *d) {
  const float w = d->x1 - d->x0, h = d->y1 - d->y0;
  return (w > 0 ? w : 0) * (h > 0 ? h : 0);
}

static float iou(const kiln_detection *a, const kiln_detection *b) {
  const kiln_detection overlap = {
    a->x0 > b->x0 ? a->x0 : b->x0, a->y0 > b->y0 ? a->y0 : b->y0, a->x1 < b->x1 ? a->x1 : b->x1, a->y1 < b->y1 ? a->y1 : b->y1, 0, 0};
  const float both = area(&overlap), either = area(a) + area(b) - both;
  return either > 0 ? both / either : 0;
}

kiln_status kiln_nms(kiln_detection *detections, size_t count, float iou_threshold, int per_class, size_t max_kept, size_t *kept) {
  if ((!detections && count > 0) || !kept) return KILN_ERR_INVALID_ARGUMENT;
  /* Insertion sort by descending score: stable, in place. */
  for (size_t i = 1; i < count; i++) {
    const kiln_detection moving = detections[i];
    size_t j = i;
    for (; j > 0 && detections[j - 1].score < moving.score; j--) detections[j] = detections[j - 1];
    detections[j] = moving;
  }
  size_t kept_count = 0;
  for (size_t i = 0; i < count && kept_count < max_kept; i++) {
    int suppressed = 0;
    for (size_t k = 0; k < kept_count && !suppressed; k++)
      suppressed = (!per_class || detections[k].label == detections[i].label) && iou(&detections[k], &detections[i]) > iou_threshold;
    if (!suppressed) detections[kept_count++] = detections[i];
  }
  *kept = kept_count;
  return KILN_OK;
}
