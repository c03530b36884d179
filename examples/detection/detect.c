/* Finds objects in canvases with a detector compiled by Kiln (detector.so, detector.h):
 *
 *   detect canvases.f32 count [score_threshold] [iou_threshold]
 *
 * canvases.f32 holds `count` one-channel 96×96 canvases as little-endian floats. Prints, per
 * canvas, "canvas I: N objects" and then one line per object: class, score, x0 y0 x1 y1.
 */
#include <stdio.h>
#include <stdlib.h>

#include "detector.h"

/* Room for every cell of the 6×6 grid: no canvas can have more objects. */
enum { CAPACITY = 36 };

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s canvases.f32 count [score_threshold] [iou_threshold]\n", argv[0]);
    return 2;
  }
  const int count = atoi(argv[2]);
  const float score_threshold = argc > 3 ? strtof(argv[3], NULL) : 0.3f, iou_threshold = argc > 4 ? strtof(argv[4], NULL) : 0.45f;
  FILE *file = fopen(argv[1], "rb");
  if (!file) {
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  detector_context *context;
  if (detector_create(&context) != DETECTOR_OK) {
    fprintf(stderr, "cannot create a detector context\n");
    fclose(file);
    return 1;
  }
  static float canvas[DETECTOR_INPUT_INPUT_SIZE];
  detector_detection found[CAPACITY];
  int status = 0;
  for (int i = 0; i < count && status == 0; i++) {
    int objects = 0;
    if (fread(canvas, sizeof(float), DETECTOR_INPUT_INPUT_SIZE, file) != DETECTOR_INPUT_INPUT_SIZE) {
      fprintf(stderr, "%s holds fewer than %d canvases\n", argv[1], count);
      status = 1;
    } else if (detector_detect(context, canvas, score_threshold, iou_threshold, found, CAPACITY, &objects) != DETECTOR_OK) {
      fprintf(stderr, "canvas %d: %s\n", i, detector_last_error(context));
      status = 1;
    } else {
      printf("canvas %d: %d objects\n", i, objects);
      for (int k = 0; k < objects; k++)
        printf("%d %.9g %.9g %.9g %.9g %.9g\n", found[k].label, found[k].score, found[k].x0, found[k].y0, found[k].x1, found[k].y1);
    }
  }
  detector_destroy(context);
  fclose(file);
  return status;
}
