import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// A detector's shared object: `<prefix>_detect` in C finds the objects `YOLOGrid.detect` finds.
@Suite struct DetectorSharedObjectTests {
  let grid = YOLOGrid(cells: 3, classes: 3, width: 24, height: 24)

  /// Random weights, but a head bias that makes boxes wide (σ(2)² of the input) so that they overlap.
  func detector() throws -> Model {
    let random = try Model(
      graph: Graph(name: "tiny_detector", input: [2, 1, 24, 24]) {
        Conv2D(8, kernel: 3, padding: 1, activation: .relu, name: "conv1")
        MaxPool2D(2, name: "pool1")
        Conv2D(8, kernel: 3, padding: 1, activation: .relu, name: "conv2")
        MaxPool2D(4, name: "pool2")
        Conv2D(grid.channels, kernel: 1, name: "head")
      }, seed: 4)
    var parameters = random.parameters
    parameters["head.bias"] = try Tensor(shape: [grid.channels], scalars: [0, 0, 0, 2, 2, 0, 0, 0])
    return try Model(graph: random.graph, parameters: parameters)
  }

  /// A C program prints the library's raw output (`_infer`) and its objects (`_detect`); Swift's
  /// decoding and suppression of that very output give the same objects, bit for bit, and the
  /// output is the JIT's within 1e-4.
  @Test func cDetectFindsTheSwiftLibrarysObjects() throws {
    let directory = try temporaryDirectory("kiln-detector")
    let model = try detector()
    let compiler = try Compiler()
    let header = try String(contentsOfFile: try compiler.emitSharedObject(model, to: directory + "/det.so", detector: grid), encoding: .utf8)
    #expect(header.contains("typedef struct det_detection {"))
    #expect(header.contains("int det_detect(det_context *context, const float *input, float score_threshold, float iou_threshold, det_detection *detections, int capacity, int *counts);"))
    let exported = try shell("nm -D --defined-only \(directory)/det.so | awk '{print $3}'").output.split(separator: "\n")
    #expect(exported.contains("det_detect") && !exported.contains { $0.hasPrefix("kiln_") }, "\(exported)")

    let input = try Tensor<Float>(shape: [2, 1, 24, 24], scalars: (0..<1152).map { Float(($0 * 7919) % 1000) / 1000 })
    try input.scalars.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: directory + "/input.f32"))
    let program = """
      #include <stdio.h>
      #include "det.h"
      int main(void) {
        static float input[DET_INPUT_INPUT_SIZE], output[DET_OUTPUT_HEAD_SIZE];
        FILE *file = fopen("input.f32", "rb");
        if (!file || fread(input, sizeof(float), DET_INPUT_INPUT_SIZE, file) != DET_INPUT_INPUT_SIZE) return 3;
        fclose(file);
        det_context *context;
        if (det_create(&context) || det_infer(context, input, output)) return 4;
        for (int i = 0; i < DET_OUTPUT_HEAD_SIZE; i++) printf("%.9g\\n", output[i]);
        det_detection found[2 * 9];
        int counts[2];
        if (det_detect(context, input, 0.05f, 0.3f, found, 9, counts)) return 5;
        for (int image = 0; image < 2; image++)
          for (int k = 0; k < counts[image]; k++) {
            const det_detection *d = &found[image * 9 + k];
            printf("object %d %d %.9g %.9g %.9g %.9g %.9g\\n", image, d->label, d->score, d->x0, d->y0, d->x1, d->y1);
          }
        int status = det_detect(context, NULL, 0.05f, 0.3f, found, 9, counts);
        printf("null input: %d %s\\n", status, det_last_error(context));
        det_destroy(context);
        return 0;
      }
      """
    try program.write(toFile: directory + "/detect.c", atomically: true, encoding: .utf8)
    let run = try shell("cd \(directory) && cc -O2 -I. -o detect detect.c det.so -Wl,-rpath,\(directory) && ./detect")
    #expect(run.status == 0, "\(run.output)")
    let lines = run.output.split(separator: "\n")
    let output = try Tensor<Float>(shape: [2, grid.channels, 3, 3], scalars: lines.prefix(2 * grid.channels * 9).compactMap { Float($0) })
    let jit = try compiler.compile(model).predict(input)
    #expect(zip(output.scalars, jit.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })

    var fromC: [[Detection]] = [[], []]
    for line in lines where line.hasPrefix("object ") {
      let v = line.split(separator: " ").dropFirst().compactMap { Float($0) }
      fromC[Int(v[0])].append(Detection(box: Box(x0: v[3], y0: v[4], x1: v[5], y1: v[6]), label: Int(v[1]), score: v[2]))
    }
    for image in 0..<2 {
      let candidates = try grid.decode(output, image: image, scoreThreshold: 0.05)
      let swift = try grid.detect(output, image: image, scoreThreshold: 0.05, iouThreshold: 0.3)
      #expect(fromC[image] == swift, "image \(image)")
      #expect(!swift.isEmpty && swift.count < candidates.count, "image \(image): suppression should keep some of \(candidates.count) candidates and drop others")
    }
    #expect(run.output.contains("null input: 1 det_detect: a buffer is NULL"))
  }

  /// A model whose output is not the grid's is refused, naming both shapes.
  @Test func aModelThatIsNotTheGridsDetectorIsRefused() throws {
    let compiler = try Compiler()
    let other = YOLOGrid(cells: 4, classes: 3, width: 24, height: 24)
    let error = #expect(throws: KilnError.self) { try compiler.emitSharedObject(detector(), to: NSTemporaryDirectory() + "/never.so", detector: other) }
    #expect("\(error!)".contains("one output [N, 8, 4, 4]") && "\(error!)".contains("gives [2,8,3,3]"), "\(error!)")
  }
}
