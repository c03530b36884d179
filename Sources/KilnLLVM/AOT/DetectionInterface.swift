import Kiln

/// The C API a detector's library adds (`<prefix>_detect`): inference, then the C runtime's
/// `kiln_yolo_decode` and `kiln_nms` per image, with the grid as a descriptor in the wrapper.
struct DetectionInterface {
  let grid: YOLOGrid
  let prefix: String
  /// The model's batch size.
  let batch: Int

  /// Checks that `graph` is a detector for `grid`: one float input, one output `[N, 5 + classes,
  /// cells, cells]`.
  init(grid: YOLOGrid, graph: Graph, prefix: String) throws {
    let inputs = graph.inputs.map { graph[$0].type }
    let outputs = graph.outputs.map { graph[$0].type }
    guard inputs.count == 1, inputs[0].dtype == .f32, outputs.count == 1, outputs[0].rank == 4,
      outputs[0].shape.dropFirst() == [grid.channels, grid.cells, grid.cells]
    else {
      throw KilnError.invalidArgument(
        "\(graph.name) is not a detector for a \(grid.cells)×\(grid.cells) grid of \(grid.classes) classes: it needs one float input and one output "
          + "[N, \(grid.channels), \(grid.cells), \(grid.cells)], but takes \(inputs.map(\.description).joined(separator: ", ")) "
          + "and gives \(outputs.map(\.description).joined(separator: ", "))")
    }
    self.grid = grid
    self.prefix = prefix
    self.batch = outputs[0].shape[0]
  }

  private var signature: String {
    "int \(prefix)_detect(\(prefix)_context *context, const float *input, float score_threshold, float iou_threshold, "
      + "\(prefix)_detection *detections, int capacity, int *counts)"
  }

  /// The declarations the header gains.
  var header: String {
    """

    /** One detected object: corners in input pixels (x0, y0 top left; x1, y1 bottom right), class, score 0…1. */
    typedef struct \(prefix)_detection {
      float x0, y0, x1, y1;
      int32_t label;
      float score;
    } \(prefix)_detection;

    /** Runs the model (a detector: a \(grid.cells)×\(grid.cells) grid, \(grid.classes) classes, \(grid.width)×\(grid.height) inputs) on `input` and
     *  finds the objects of each of its \(batch) image(s): cells scoring at least `score_threshold`, then per-class
     *  non-maximum suppression at `iou_threshold`. Image i's objects, best first, go to
     *  detections[i * capacity …] (at most `capacity` each); counts[i] says how many. The same
     *  objects as YOLOGrid.detect in Kiln's Swift library. */
    \(signature);

    """
  }

  /// The function the wrapper gains (after `<prefix>_infer` and `fail`).
  var function: String {
    let plane = grid.channels * grid.cells * grid.cells
    return """

      EXPORT \(signature) {
        if (!context) return KILN_ERR_INVALID_ARGUMENT;
        context->base.error[0] = 0;
        if (!input || !detections || !counts || capacity < 0)
          return fail(context, KILN_ERR_INVALID_ARGUMENT, "\(prefix)_detect: a buffer is NULL or the capacity (%d) is negative", capacity);
        static const kiln_yolo_grid grid = {\(grid.cells), \(grid.classes), \(grid.width), \(grid.height)};
        float *output = malloc(\(batch * plane) * sizeof(float));
        kiln_detection *candidates = malloc(\(grid.cells * grid.cells) * sizeof(kiln_detection));
        int status = output && candidates ? \(prefix)_infer(context, input, output) : fail(context, KILN_ERR_OUT_OF_MEMORY, "\(prefix)_detect: out of memory");
        for (int image = 0; status == KILN_OK && image < \(batch); image++) {
          size_t found = 0, kept = 0;
          status = kiln_yolo_decode(output + (size_t)image * \(plane), &grid, score_threshold, candidates, &found);
          if (status == KILN_OK) status = kiln_nms(candidates, found, iou_threshold, 1, (size_t)capacity, &kept);
          for (size_t i = 0; i < kept; i++) {
            \(prefix)_detection *d = &detections[(size_t)image * capacity + i];
            d->x0 = candidates[i].x0, d->y0 = candidates[i].y0, d->x1 = candidates[i].x1, d->y1 = candidates[i].y1;
            d->label = candidates[i].label, d->score = candidates[i].score;
          }
          counts[image] = (int)kept;
        }
        free(output);
        free(candidates);
        return status;
      }

      """
  }
}
