import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// `examples/train-mpi`: a `.so` compiled for one of two processes, trained from C under mpirun,
/// ends with the weights `examples/train-c` trains in one process with the same global batch,
/// after 10 steps (further on, the early steps' chaotic training amplifies the float32 rounding
/// of the two summation orders, ~1e-7, past 1e-5: by step 20 to ~1e-3).
@Suite struct TrainMPISharedObjectTests {
  @Test func twoProcessesFromCTrainAsOne() throws {
    let (one, two) = (try temporaryDirectory("kiln-train-one"), try temporaryDirectory("kiln-train-two"))
    let compiler = try Compiler()
    let whole = try Model(graph: Zoo.lenet5(input: [64, 1, 32, 32]), seed: 2)
    let single = try Trainer(model: whole, optimizer: Optimizer(.momentum))
    try compiler.emitSharedObject(whole, to: one + "/lenet5_train.so", prefix: "lenet5", training: single.training, initial: single.parameters)
    let half = try Model(graph: Zoo.lenet5(input: [32, 1, 32, 32]), seed: 2)
    let shared = try Trainer(model: half, optimizer: Optimizer(.momentum), share: 0.5)
    let header = try compiler.emitSharedObject(half, to: two + "/lenet5_train.so", prefix: "lenet5", training: shared.training, initial: shared.parameters)
    let text = try String(contentsOfFile: header, encoding: .utf8)
    #expect(text.contains("int lenet5_set_communicator(lenet5_context *context, int (*all_reduce_sum)(void *state, float *values, size_t count), void *state);"))
    #expect(text.contains("#define LENET5_ERR_COMMUNICATION 8"))
    let needed = try shell("readelf -d \(two)/lenet5_train.so | grep NEEDED").output
    #expect(!needed.contains("mpi"), "the library must not link MPI: \(needed)")

    let examples = packageRoot.appendingPathComponent("examples").path
    let data = FashionMNIST.defaultDirectory
    let build = try shell(
      "make -s -C \(examples)/train-c train MODEL_DIR=\(one) && mv \(examples)/train-c/train \(one)/ && "
        + "make -s -C \(examples)/train-mpi train MODEL_DIR=\(two) && mv \(examples)/train-mpi/train \(two)/")
    #expect(build.status == 0, "\(build.output)")
    let alone = try shell("\(one)/train \(data) \(one)/w.safetensors 640")
    #expect(alone.status == 0, "\(alone.output)")
    let root = getuid() == 0 ? "--allow-run-as-root" : ""
    let job = try shell("mpirun \(root) --oversubscribe -np 2 \(two)/train \(data) \(two)/w.safetensors 640")
    #expect(job.status == 0 && job.output.contains("2 processes trained 1 epoch on 640 images (batches of 64)"), "\(job.output)")

    let (a, b) = (try SafeTensors.read(one + "/w.safetensors").tensors, try SafeTensors.read(two + "/w.safetensors").tensors)
    #expect(a.count == 10 && a.count == b.count)
    for (name, tensor) in a {
      let other = try #require(b[name])
      let relative = relativeDifference(tensor, other)
      #expect(relative <= 1e-5, "\(name): relative difference \(relative)")
    }
  }
}
