import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// `kiln compile`'s library half: a self-contained `.so` and header, used from the C example.
@Suite struct SharedObjectTests {
  @Test func lenet5SharedObjectRunsFromCWithTheJITsAccuracy() throws {
    let directory = try temporaryDirectory("kiln-so")
    let model = try Model(graph: Zoo.lenet5(), seed: 11)
    let compiler = try Compiler()
    let header = try compiler.emitSharedObject(model, to: directory + "/lenet5.so")
    #expect(header == directory + "/lenet5.h")
    let text = try String(contentsOfFile: header, encoding: .utf8)
    #expect(text.contains("int lenet5_infer(lenet5_context *context, const float *input, float *fc2);"))
    #expect(text.contains("#define LENET5_INPUT_INPUT_SIZE 1024"))

    // Direct dependencies: libc, libm and libopenblas only; exports: the C API only.
    let needed = try shell("readelf -d \(directory)/lenet5.so | grep NEEDED").output
    let libraries = needed.split(separator: "\n").compactMap { $0.split(separator: "[").last?.split(separator: "]").first.map(String.init) }.sorted()
    #expect(libraries.contains("libopenblas.so.0") && Set(libraries).isSubset(of: ["libc.so.6", "libm.so.6", "libpthread.so.0", "libopenblas.so.0"]), "\(libraries)")
    let exported = try shell("nm -D --defined-only \(directory)/lenet5.so | awk '{print $3}'").output.split(separator: "\n").map(String.init).sorted()
    #expect(exported == [
      "lenet5_create", "lenet5_create_from_file", "lenet5_destroy", "lenet5_get_weights", "lenet5_infer", "lenet5_last_error",
      "lenet5_save_weights", "lenet5_set_threads", "lenet5_set_weights",
    ])

    let count = 200
    let examples = packageRoot.appendingPathComponent("examples").path
    let build = try shell("make -s -C \(examples)/embed-c classify threads MODEL_DIR=\(directory) && mv \(examples)/embed-c/classify \(examples)/embed-c/threads \(directory)/")
    #expect(build.status == 0, "\(build.output)")
    let data = FashionMNIST.defaultDirectory
    let run = try shell("\(directory)/classify \(data) \(count)")
    #expect(run.status == 0, "\(run.output)")

    // The C program's logits for one image equal the interpreter's.
    let logits = try shell("\(directory)/classify \(data) --logits 7").output.split(separator: "\n").compactMap { Float($0) }
    let image = try FashionMNIST.load(.test, limit: 8, padding: 2).batch([7]).images
    let expected = try model.predict(image).scalars
    #expect(logits.count == 10)
    for (c, e) in zip(logits, expected) { #expect(abs(c - e) <= 1e-4 * max(1, abs(e)), "C \(c) against the interpreter's \(e)") }

    // Two contexts on two threads give exactly one context's results.
    let threads = try shell("\(directory)/threads \(data) 100")
    #expect(threads.status == 0 && threads.output.contains("identical to one context"), "\(threads.output)")

    // valgrind (which cannot decode AVX-512) on the same model compiled for AVX2: no invalid
    // access, no leak.
    try Compiler(targetCPU: "x86-64-v3").emitSharedObject(model, to: directory + "/lenet5.so")
    let valgrind = try shell("OPENBLAS_NUM_THREADS=1 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \(directory)/classify \(data) 2 2>&1")
    #expect(valgrind.status == 0 && valgrind.output.contains("ERROR SUMMARY: 0 errors"), "\(valgrind.output.suffix(1500))")

    // Python through ctypes.
    let python = try shell("python3 \(examples)/embed-python/classify.py \(directory)/lenet5.so \(data) \(count)")
    #expect(python.status == 0, "\(python.output)")

    let compiled = try compiler.compile(model)
    let test = try FashionMNIST.load(.test, limit: count, padding: 2)
    var correct = 0
    for index in 0..<count {
      let (image, label) = test.batch([index])
      if try compiled.predict(image).argmaxRows()[0] == Int(label.scalars[0]) { correct += 1 }
    }
    #expect(run.output.contains("accuracy \(correct)/\(count) ="), "\(run.output)")
    #expect(python.output.contains("accuracy \(correct)/\(count) ="), "\(python.output)")
  }

  @Test func weightsFilesLoadIntoContextsAndBadOnesAreRejected() throws {
    let directory = try temporaryDirectory("kiln-so")
    let trained = try Model(graph: Zoo.lenet5(), seed: 21)
    try SafeTensors.write(trained.parameters.entries, to: directory + "/w.safetensors")
    try SafeTensors.write(Array(trained.parameters.entries.dropLast()), to: directory + "/short.safetensors")
    // A library compiled with other weights, then given the trained ones from the file.
    try Compiler().emitSharedObject(Model(graph: Zoo.lenet5(), seed: 1), to: directory + "/lenet5.so")
    let program = """
      #include <stdio.h>
      #include "lenet5.h"
      int main(int argc, char **argv) {
        lenet5_context *model;
        char error[256] = "unchanged";
        int status = lenet5_create_from_file(&model, argv[1], error, sizeof error);
        if (status != LENET5_OK) { printf("status %d: %s\\n", status, error); return model != NULL; }
        static float image[LENET5_INPUT_INPUT_SIZE], logits[LENET5_OUTPUT_FC2_SIZE];
        for (int i = 0; i < LENET5_INPUT_INPUT_SIZE; i++) image[i] = (float)(i % 7) - 3;
        lenet5_infer(model, image, logits);
        for (int c = 0; c < 10; c++) printf("%.9g\\n", logits[c]);
        /* One call a statement: C leaves the order of a call's arguments unspecified. */
        float bias[10];
        int got = lenet5_get_weights(model, "fc2.bias", bias, 10);
        int set = lenet5_set_weights(model, "fc2.bias", bias, 10);
        int bad = lenet5_set_weights(model, "fc9.bias", bias, 10);
        printf("get %d set %d bad %d\\n", got, set, bad);
        printf("null %d: %s\\n", lenet5_set_weights(model, "fc2.bias", NULL, 10), lenet5_last_error(model));
        printf("save %d\\n", lenet5_save_weights(model, argv[2]));
        lenet5_destroy(model);
        return 0;
      }
      """
    try program.write(toFile: directory + "/load.c", atomically: true, encoding: .utf8)
    let build = try shell("cc -O2 -I\(directory) -o \(directory)/load \(directory)/load.c \(directory)/lenet5.so -Wl,-rpath,\(directory)")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("\(directory)/load \(directory)/w.safetensors \(directory)/saved.safetensors").output
    let image = try Tensor<Float>(shape: [1, 1, 32, 32], scalars: (0..<1024).map { Float($0 % 7) - 3 })
    let expected = try trained.predict(image).scalars
    let printed = run.split(separator: "\n").prefix(10).compactMap { Float($0) }
    #expect(printed.count == 10)
    for (c, e) in zip(printed, expected) { #expect(abs(c - e) <= 1e-4 * max(1, abs(e))) }
    #expect(run.contains("get 0 set 0 bad 1") && run.contains("save 0"), "\(run)")
    #expect(run.contains("null 1: lenet5_set_weights: the values of fc2.bias are NULL"), "\(run)")
    // What C saved, Swift loads bit-identically.
    #expect(try Model(graph: trained.graph, weightsFrom: directory + "/saved.safetensors").parameters == trained.parameters)
    // Refused files: the loader's reason reaches the caller, and no context is made.
    let short = try shell("\(directory)/load \(directory)/short.safetensors /dev/null")
    #expect(short.status == 0 && short.output.contains("status 3: \(directory)/short.safetensors: lacks fc2.bias"), "\(short.output)")
    let missing = try shell("\(directory)/load \(directory)/missing.safetensors /dev/null")
    #expect(missing.status == 0 && missing.output.contains("status 4: \(directory)/missing.safetensors: cannot be opened"), "\(missing.output)")

    // Without embedded weights, only create_from_file makes contexts; as an object, it links statically.
    try Compiler().emitSharedObject(Model(graph: Zoo.lenet5(), seed: 1), to: directory + "/lenet5.o", embedWeights: false)
    let statically = try shell("cc -O2 -I\(directory) -o \(directory)/static \(directory)/load.c \(directory)/lenet5.o -lopenblas -lm")
    #expect(statically.status == 0, "\(statically.output)")
    let local = try shell("nm \(directory)/lenet5.o | grep ' T ' | awk '{print $3}'").output.split(separator: "\n").map(String.init).sorted()
    #expect(local.allSatisfy { $0.hasPrefix("lenet5_") }, "\(local)")
    let external = try shell("\(directory)/static \(directory)/w.safetensors /dev/null").output
    let values = external.split(separator: "\n").prefix(10).compactMap { Float($0) }
    for (c, e) in zip(values, expected) { #expect(abs(c - e) <= 1e-4 * max(1, abs(e))) }
    #expect(values.count == 10, "\(external)")
  }

  /// A host that sets nothing gets OpenBLAS's kernel for its CPU even where OpenBLAS fell back to
  /// SSE3 ("Prescott", forced here as it happens on CPUs newer than the library): creating a
  /// context switches to SkylakeX (AVX-512) or Haswell (AVX2), and the logits stay the model's.
  @Test func contextsReplaceOpenBLASsSSE3Kernel() throws {
    let directory = try temporaryDirectory("kiln-blas")
    let model = try Model(graph: Zoo.lenet5(), seed: 4)
    try Compiler().emitSharedObject(model, to: directory + "/lenet5.so")
    let program = """
      #include <stdio.h>
      #include "lenet5.h"
      extern char *openblas_get_corename(void);
      int main(void) {
        printf("loaded %s\\n", openblas_get_corename());
        lenet5_context *model;
        if (lenet5_create(&model) != LENET5_OK) return 1;
        printf("running %s\\n", openblas_get_corename());
        static float image[LENET5_INPUT_INPUT_SIZE], logits[LENET5_OUTPUT_FC2_SIZE];
        for (int i = 0; i < LENET5_INPUT_INPUT_SIZE; i++) image[i] = (float)(i % 7) - 3;
        if (lenet5_infer(model, image, logits) != LENET5_OK) return 1;
        for (int c = 0; c < 10; c++) printf("%.9g\\n", logits[c]);
        lenet5_destroy(model);
        return 0;
      }
      """
    try program.write(toFile: directory + "/core.c", atomically: true, encoding: .utf8)
    let build = try shell("cc -O2 -I\(directory) -o \(directory)/core \(directory)/core.c \(directory)/lenet5.so -lopenblas -Wl,-rpath,\(directory)")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("OPENBLAS_CORETYPE=Prescott \(directory)/core")
    #expect(run.status == 0, "\(run.output)")
    let lines = run.output.split(separator: "\n").map(String.init)
    // The runtime's rule: SkylakeX where the CPU has the AVX-512 subsets its kernels use.
    let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
    let native = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy { flags.contains(" \($0)") } ? "SkylakeX" : "Haswell"
    #expect(lines.first == "loaded Prescott" && lines.dropFirst().first == "running \(native)", "\(run.output)")
    let image = try Tensor<Float>(shape: [1, 1, 32, 32], scalars: (0..<1024).map { Float($0 % 7) - 3 })
    let expected = try model.predict(image).scalars
    let printed = lines.dropFirst(2).compactMap { Float($0) }
    #expect(printed.count == 10)
    for (c, e) in zip(printed, expected) { #expect(abs(c - e) <= 1e-4 * max(1, abs(e))) }
  }

  /// Two exports of one model name (PyTorch names every graph `main_graph`) get their prefixes
  /// from their file names and link into one program; each header names its own file.
  @Test func defaultPrefixIsTheFileName() throws {
    let directory = try temporaryDirectory("kiln-prefix")
    var graph = try Zoo.lenet5()
    graph.name = "main_graph"
    let model = try Model(graph: graph, seed: 3)
    let compiler = try Compiler()
    for name in ["digits", "clothes"] {
      let header = try String(contentsOfFile: try compiler.emitSharedObject(model, to: "\(directory)/\(name).o"), encoding: .utf8)
      #expect(header.hasPrefix("/* \(name).h: the C interface of model \"main_graph\""), "\(header.prefix(80))")
      #expect(header.contains("int \(name)_infer(\(name)_context *context"))
    }
    let named = try compiler.emitSharedObject(model, to: directory + "/m_v2.o", prefix: "m")
    #expect(try String(contentsOfFile: named, encoding: .utf8).hasPrefix("/* m_v2.h: "))
    let program = "#include \"digits.h\"\n#include \"clothes.h\"\nint main(void) { digits_context *a; clothes_context *b;"
      + " return digits_create(&a) || clothes_create(&b); }\n"
    try program.write(toFile: directory + "/both.c", atomically: true, encoding: .utf8)
    let link = try shell("cd \(directory) && cc both.c digits.o clothes.o -lopenblas -lm -lpthread -o both && ./both")
    #expect(link.status == 0, "\(link.output)")
  }

  /// A kernel's parallel loop is a function named after the kernel, so that a profile of a
  /// library (perf) says whose loop runs.
  @Test func parallelLoopsAreNamedAfterTheirKernels() throws {
    let directory = try temporaryDirectory("kiln-names")
    let model = try Model(name: "wide", input: [1, 64, 56, 56], seed: 1) { Conv2D(64, kernel: 3, padding: 1) }
    try Compiler().emitSharedObject(model, to: directory + "/wide.o")
    let symbols = try shell("nm \(directory)/wide.o")
    #expect(symbols.status == 0 && symbols.output.contains(" wide_kiln_infer_entry_f0.task"), "\(symbols.output)")
  }

  /// A context keeps Winograd's transformed weights between runs: new weights from
  /// `set_weights`, and those a training step leaves, reach the next inference.
  /// What a C program sees through `model`'s library (prefix `prefix`, with a training step):
  /// the first 20 logits on a sine image after creation, after setting weights `name` to
  /// `values`, and after one training step; and the model with the weights it saved at the end.
  func logitsAsWeightsChange(_ model: Model, prefix: String, weights name: String, to values: [Float]) throws -> (logits: [[Float]], trained: Model) {
    let directory = try temporaryDirectory("kiln-\(prefix)")
    let trainer = try Trainer(model: model, optimizer: Optimizer(.momentum))
    try Compiler().emitSharedObject(model, to: directory + "/\(prefix).so", training: trainer.training, initial: trainer.parameters)
    let size = model.graph[model.graph.inputs[0]].type.elementCount
    let program = """
      #include <math.h>
      #include <stdio.h>
      #include "\(prefix).h"
      static void print(const float *logits) { for (int i = 0; i < 20; i++) printf("%.9g\\n", logits[i]); }
      int main(int argc, char **argv) {
        \(prefix)_context *model;
        if (\(prefix)_create(&model) != 0) return 1;
        static float image[\(size)], logits[20];
        static const float weights[] = {\(values.map { "\($0)f" }.joined(separator: ", "))};
        int32_t labels[4] = {0, 3, 1, 4};
        float loss;
        for (int i = 0; i < \(size); i++) image[i] = sinf(0.37f * i);
        int first = \(prefix)_infer(model, image, logits);
        print(logits);
        int set = \(prefix)_set_weights(model, argv[1], weights, \(values.count));
        int second = \(prefix)_infer(model, image, logits);
        print(logits);
        int step = \(prefix)_train_step(model, image, labels, 0.5f, &loss);
        int third = \(prefix)_infer(model, image, logits);
        print(logits);
        int saved = \(prefix)_save_weights(model, argv[2]);
        \(prefix)_destroy(model);
        return first || set || second || step || third || saved;
      }
      """
    try program.write(toFile: directory + "/\(prefix).c", atomically: true, encoding: .utf8)
    let build = try shell("cc -O2 -I\(directory) -o \(directory)/\(prefix) \(directory)/\(prefix).c \(directory)/\(prefix).so -lm -Wl,-rpath,\(directory)")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("\(directory)/\(prefix) \(name) \(directory)/trained.safetensors")
    #expect(run.status == 0, "\(run.output)")
    let printed = run.output.split(separator: "\n").compactMap { Float($0) }
    try #require(printed.count == 60)
    return ((0..<3).map { Array(printed[(20 * $0)..<(20 * $0 + 20)]) }, try Model(graph: model.graph, weightsFrom: directory + "/trained.safetensors"))
  }

  /// Expects `logits` to be the interpreter's for `references` on the sine image of `shape`.
  func expectLogits(_ logits: [[Float]], of references: [Model], shape: [Int]) throws {
    let image = try Tensor<Float>(shape: shape, scalars: (0..<shape.reduce(1, *)).map { sinf(0.37 * Float($0)) })
    for (round, reference) in references.enumerated() {
      let expected = try Tensor(shape: [20], scalars: try reference.predict(image).scalars)
      #expect(relativeDifference(expected, try Tensor(shape: [20], scalars: logits[round])) <= 1e-5, "round \(round)")
    }
  }

  @Test func keptTransformedWeightsFollowNewWeights() throws {
    let model = try Model(name: "kept", input: [4, 16, 8, 8], seed: 5) {
      Conv2D(16, kernel: 3, padding: 1, activation: .relu)
      // 4 samples of 3×3 outputs: run transposed, on weights packed once.
      Conv2D(16, kernel: 3, stride: 2)
      GlobalPool(.average)
      Flatten()
      Dense(5)
    }
    // New weights for the transposed one through the C API; the training step changes both.
    let convolutions = model.graph.nodes.filter { if case .conv = $0.op { true } else { false } }
    let weightName = model.graph[convolutions[1].inputs[1]].name
    #expect(WinogradConvolution(ConvAttrs(stride: [1, 1], padding: .symmetric(1, rank: 2), dilation: [1, 1]), x: [4, 16, 8, 8], weight: [16, 16, 3, 3],
      output: [4, 16, 8, 8], lanes: 16, weightsChange: false) != nil)
    for unit in [VectorUnit(lanes: 8), VectorUnit(lanes: 16)] {
      let shape = ConvolutionShape(x: [4, 16, 8, 8], weight: [16, 16, 3, 3], output: [4, 16, 3, 3], groups: 1)
      let attrs = ConvAttrs(stride: [2, 2], padding: .symmetric(0, rank: 2), dilation: [1, 1])
      #expect(ChannelVectorConvolution(attrs, shape, vectors: unit, weightsChange: false) != nil)
    }
    var changed = model
    changed.parameters[weightName] = try Tensor(shape: [16, 16, 3, 3], scalars: (0..<2304).map { 0.1 * cosf(0.11 * Float($0)) })
    let (logits, trained) = try logitsAsWeightsChange(model, prefix: "kept", weights: weightName, to: changed.parameters[weightName]!.scalars)
    #expect(trained.parameters[weightName] != changed.parameters[weightName])
    // The interpreter's logits with the initial weights, the new conv weights, and the trained ones.
    try expectLogits(logits, of: [model, changed, trained], shape: [4, 16, 8, 8])
  }

  /// The library's inference folds batch norms into the convolutions before them, from the
  /// model's weights as they are when it infers: after creation, new batch-norm weights, a
  /// training step (which moves the running statistics too).
  @Test func foldedBatchNormsFollowNewWeights() throws {
    var model = try Model(name: "folded", input: [4, 4, 8, 8], seed: 6) {
      Conv2D(8, kernel: 3, padding: 1, bias: false, name: "conv")
      BatchNorm(name: "bn")
      Activation(.relu)
      Conv2D(8, kernel: 1, name: "pointwise")
      BatchNorm(name: "bn2")
      GlobalPool(.average)
      Flatten()
      Dense(5)
    }
    for (name, low) in [("bn.running_mean", -0.2), ("bn.running_var", 0.5), ("bn2.running_mean", -0.1), ("bn2.running_var", 0.3), ("bn2.weight", 0.5)] {
      model.parameters[name] = try Tensor(shape: [8], scalars: (0..<8).map { Float(low) + 0.1 * Float($0) })
    }
    #expect(try model.graph.foldingBatchNorm(renaming: true).folds.map(\.foldedWeight) == ["conv.weight.folded", "pointwise.weight.folded"])
    var changed = model
    changed.parameters["bn.weight"] = try Tensor(shape: [8], scalars: (0..<8).map { 2 - 0.3 * Float($0) })
    let (logits, trained) = try logitsAsWeightsChange(model, prefix: "folded", weights: "bn.weight", to: changed.parameters["bn.weight"]!.scalars)
    #expect(trained.parameters["bn.running_mean"] != changed.parameters["bn.running_mean"])
    // The interpreter's logits (batch norms not folded) with the initial weights, the new γ, and
    // the trained weights and statistics.
    try expectLogits(logits, of: [model, changed, trained], shape: [4, 4, 8, 8])
  }

  @Test func trainingFromCSavesWeightsKilnLoads() throws {
    let directory = try temporaryDirectory("kiln-train")
    let model = try Model(graph: Zoo.lenet5(input: [64, 1, 32, 32]), seed: 2)
    let trainer = try Trainer(model: model, optimizer: Optimizer(.momentum))
    let compiler = try Compiler()
    try compiler.emitSharedObject(model, to: directory + "/lenet5_train.so", prefix: "lenet5", training: trainer.training, initial: trainer.parameters)
    let examples = packageRoot.appendingPathComponent("examples").path
    let build = try shell("make -s -C \(examples)/train-c train MODEL_DIR=\(directory) && mv \(examples)/train-c/train \(directory)/")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("\(directory)/train \(FashionMNIST.defaultDirectory) \(directory)/c.safetensors 1280")
    #expect(run.status == 0 && run.output.contains("trained 1 epoch on 1280 images"), "\(run.output)")
    // kiln loads the weights, and its compiled model agrees with C's test accuracy.
    let trained = try Model(graph: model.graph, weightsFrom: directory + "/c.safetensors")
    let compiled = try compiler.compile(trained)
    let test = try FashionMNIST.load(.test, padding: 2)
    var correct = 0
    for start in stride(from: 0, to: 9984, by: 64) {
      let (images, labels) = test.batch(Array(start..<(start + 64)))
      correct += zip(try compiled.predict(images).argmaxRows(), labels.scalars).filter { $0 == Int($1) }.count
    }
    #expect(run.output.contains("test accuracy \(correct)/9984"), "\(run.output) against \(correct)")
  }
}
