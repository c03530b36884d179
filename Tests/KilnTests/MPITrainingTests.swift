import Foundation
import Testing

@testable import Kiln

/// `mpirun -np N kiln train`: real jobs of 2 and 3 processes on this machine (oversubscribed).
/// As root — CI runs as root — mpirun needs `--allow-run-as-root`; the flag is passed only then,
/// rather than setting OMPI_ALLOW_RUN_AS_ROOT for every test process.
@Suite(.serialized) struct MPITrainingTests {
  static let mpirun = "/usr/bin/mpirun"

  /// Starts `mpirun -np processes kiln …` (not waiting).
  func start(_ processes: Int, _ arguments: [String], in directory: String) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.mpirun)
    process.arguments = (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "-np", String(processes)]
      + [packageRoot.appendingPathComponent(".build/debug/kiln").path] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let (out, err) = (Pipe(), Pipe())
    (process.standardOutput, process.standardError) = (out, err)
    try process.run()
    return (process, out, err)
  }

  /// Runs `kiln train lenet5 …` on `processes` processes (1: without mpirun) in `directory`, on
  /// `images` training images in batches of 64.
  func train(_ processes: Int, _ arguments: [String], images: Int = 640, in directory: String) throws -> CLITests.Result {
    let common = ["train", "lenet5", "--limit", String(images), "--batch", "64"]
    if processes == 1 {
      return try CLITests().execute("kiln", common + arguments + ["--checkpoint", directory + "/one.ckpt"])
    }
    return try finish(start(processes, common + arguments, in: directory))
  }

  /// Waits for a started job; its status and output.
  func finish(_ job: (Process, Pipe, Pipe)) -> CLITests.Result {
    let (process, out, err) = job
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return .init(status: process.terminationStatus, stdout: stdout, stderr: stderr)
  }

  /// The largest ‖a − b‖ / ‖a‖ over the tensors of two weight files.
  func difference(_ a: String, _ b: String) throws -> Double {
    let (x, y) = (try SafeTensors.read(a).tensors, try SafeTensors.read(b).tensors)
    #expect(x.count == y.count && x.count > 0)
    return try x.map { name, tensor in relativeDifference(tensor, try #require(y[name])) }.max() ?? 0
  }

  /// Two processes with a global batch of 64 train the weights one process trains with 64, for
  /// every optimizer (four steps each); the printed test figures are the whole test set's. Four,
  /// not more: the two runs' float32 sums differ by ~1e-7, and where a max-pooling window holds
  /// two values that close, the runs pick different maxima and route a gradient elsewhere — with
  /// SGD at this rate that happened at the tenth step on an AVX2 Zen 3, with Adam at the fifth on
  /// an AVX-512 EPYC (1.2e-7 after steps 1–4, 4e-4 after the fifth: Adam's first steps move every
  /// weight by about the learning rate whatever its gradient's size). Fewer steps make such a
  /// near tie less likely, on any CPU.
  @Test(arguments: ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
  func twoProcessesTrainAsOne(optimizer: String) throws {
    let directory = try temporaryDirectory()
    let rate = ["adam", "rmsprop", "adagrad"].contains(optimizer) ? "0.002" : "0.05"
    let arguments = ["--optimizer", optimizer, "--lr", rate, "--epochs", "1"]
    let one = try train(1, arguments + ["--out", directory + "/one.safetensors"], images: 256, in: directory)
    let two = try train(2, arguments + ["--out", directory + "/two.safetensors"], images: 256, in: directory)
    #expect(one.status == 0 && two.status == 0, "\(one.stderr)\n\(two.stderr)")
    #expect(try difference(directory + "/one.safetensors", directory + "/two.safetensors") <= 1e-5)
    // Same test loss and accuracy (summed over the processes' halves of the test set).
    let figures = { (result: CLITests.Result) in result.stdout.split(separator: "\n").first { $0.hasPrefix("epoch 1:") }.map { $0.split(separator: ",").dropFirst().first } }
    #expect(figures(one) != nil && figures(one) == figures(two), "\(one.stdout)\n\(two.stdout)")
    #expect(two.stdout.contains("data-parallel training on 2 processes"))
    #expect(two.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch 1:") }.count == 1, "only the first process prints")
  }

  /// Three processes (22 + 21 + 21 of each batch of 64) train the weights one process trains, and
  /// a run resumed from their checkpoint on two processes trains what one process resumed from it
  /// trains. (Not what one process trains for both epochs: the checkpoints of one and three
  /// processes differ by float32 rounding, ~1e-7, which this learning rate's second epoch
  /// amplifies to ~1e-3 in one process as well.)
  @Test func unevenSharesAndResumingOnAnotherCount() throws {
    let directory = try temporaryDirectory()
    let arguments = ["--optimizer", "momentum", "--lr", "0.05"]
    #expect(try train(1, arguments + ["--epochs", "1", "--out", directory + "/one.safetensors"], in: directory).status == 0)
    let three = try train(3, arguments + ["--epochs", "1", "--out", directory + "/three.safetensors", "--checkpoint", directory + "/three.ckpt"], in: directory)
    #expect(three.status == 0, "\(three.stderr)")
    #expect(try difference(directory + "/one.safetensors", directory + "/three.safetensors") <= 1e-5)
    let resume = arguments + ["--epochs", "2", "--resume", directory + "/three.ckpt"]
    let alone = try train(1, resume + ["--out", directory + "/alone.safetensors"], in: directory)
    #expect(alone.status == 0 && alone.stdout.contains("resumed"), "\(alone.stderr)")
    let resumed = try train(2, resume + ["--out", directory + "/resumed.safetensors", "--checkpoint", directory + "/resumed.ckpt"], in: directory)
    #expect(resumed.status == 0 && resumed.stdout.contains("resumed"), "\(resumed.stderr)")
    #expect(try difference(directory + "/alone.safetensors", directory + "/resumed.safetensors") <= 1e-5)
  }

  /// A batch-norm network: with --sync-bn two processes normalise with the whole batch's
  /// statistics (forward and backward) as one process does; without it each uses its own half.
  /// In float32 the two agree to the rounding of the batch statistics' sums (a mean over 50,176
  /// values summed in another order differs by about 1e-5 and batch norm's backward magnifies it:
  /// 2e-5 to 2e-3 after ten steps, the same for 4 processes as for 2), not to 1e-5; without
  /// synchronisation the difference is algorithmic: 4–8× larger, and growing with the processes.
  @Test func synchronizedBatchNormTrainsAsOne() throws {
    let directory = try temporaryDirectory()
    let graph = try Graph(name: "bn_net", input: [64, 1, 28, 28]) {
      Conv2D(8, kernel: 3, padding: 1, bias: false, name: "conv1")
      BatchNorm(name: "bn1")
      Activation(.relu)
      MaxPool2D(2)
      Conv2D(16, kernel: 3, padding: 1, bias: false, name: "conv2")
      BatchNorm(name: "bn2")
      Activation(.relu)
      GlobalPool(.average)
      Flatten()
      Dense(10, name: "fc")
    }
    try Model(graph: graph, seed: 3).save(graph: directory + "/bn_net.json", weights: directory + "/bn_net.safetensors")
    func run(_ processes: Int, _ extra: [String], _ name: String) throws {
      let arguments = ["train", directory + "/bn_net.json", "--weights", directory + "/bn_net.safetensors", "--limit", "640", "--batch", "64",
        "--epochs", "1", "--optimizer", "momentum", "--lr", "0.05", "--out", "\(directory)/\(name).safetensors", "--checkpoint", "\(directory)/\(name).ckpt"] + extra
      let result = processes == 1 ? try CLITests().execute("kiln", arguments) : finish(try start(processes, arguments, in: directory))
      #expect(result.status == 0, "\(result.stderr)")
    }
    try run(1, [], "one")
    try run(2, ["--sync-bn"], "synchronized")
    try run(2, [], "local")
    let (one, synchronized, local) = (
      try SafeTensors.read(directory + "/one.safetensors").tensors, try SafeTensors.read(directory + "/synchronized.safetensors").tensors,
      try SafeTensors.read(directory + "/local.safetensors").tensors)
    var (worstSynchronized, worstLocal) = (0.0, 0.0)
    for (name, tensor) in one {
      let (toSynchronized, toLocal) = (
        relativeDifference(tensor, try #require(synchronized[name])), relativeDifference(tensor, try #require(local[name])))
      #expect(toSynchronized <= 5e-3 && toSynchronized < toLocal, "\(name): synchronised \(toSynchronized), local \(toLocal)")
      (worstSynchronized, worstLocal) = (max(worstSynchronized, toSynchronized), max(worstLocal, toLocal))
    }
    #expect(worstSynchronized * 5 <= worstLocal, "synchronised \(worstSynchronized), local \(worstLocal)")
  }

  /// Large buffers are summed round a ring (`kiln_mpi_sum_floats`): on 2 and 3 processes, chunks
  /// of uneven sizes, whole-number values sum exactly, and arbitrary ones give every process the
  /// same bits; a small buffer takes MPI_Allreduce.
  @Test func ringSumsAreExactAndTheSameEverywhere() throws {
    let directory = try temporaryDirectory()
    let program = """
      #include "shim.h"
      #include <math.h>
      #include <stdint.h>
      #include <stdio.h>
      #include <string.h>
      int main(void) {
        int rank, size;
        if (kiln_mpi_start(&rank, &size) != MPI_SUCCESS) return 2;
        int wrong = 0;
        for (long count = 5; count <= KILN_MPI_RING_FLOATS + 5; count += KILN_MPI_RING_FLOATS) {
          float *whole = malloc(count * sizeof(float)), *any = malloc(count * sizeof(float));
          for (long i = 0; i < count; i++) { whole[i] = (float)((rank + 1) * (i % 7)); any[i] = sinf((float)i + rank); }
          if (kiln_mpi_sum_floats(whole, count) != MPI_SUCCESS || kiln_mpi_sum_floats(any, count) != MPI_SUCCESS) return 3;
          for (long i = 0; i < count; i++) wrong += whole[i] != (float)(size * (size + 1) / 2 * (i % 7));
          uint64_t hash = 1469598103934665603u, low, high;
          for (long i = 0; i < count; i++) { uint32_t bits; memcpy(&bits, any + i, 4); hash = (hash ^ bits) * 1099511628211u; }
          MPI_Allreduce(&hash, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
          MPI_Allreduce(&hash, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
          wrong += low != high;
          free(whole);
          free(any);
        }
        printf("rank %d of %d: %d wrong\\n", rank, size, wrong);
        kiln_mpi_finish();
        return wrong != 0;
      }
      """
    try program.write(toFile: directory + "/ring.c", atomically: true, encoding: .utf8)
    func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
      let out = Pipe()
      (process.standardOutput, process.standardError) = (out, out)
      try process.run()
      let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      return (process.terminationStatus, output)
    }
    let shim = packageRoot.appendingPathComponent("Sources/CMPI").path
    let build = try run("/usr/bin/mpicc", ["-O2", "-I", shim, "-o", directory + "/ring", directory + "/ring.c", "-lm"])
    #expect(build.status == 0, "\(build.output)")
    for processes in [2, 3] {
      let job = try run(Self.mpirun, (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "-np", String(processes), directory + "/ring"])
      #expect(job.status == 0 && job.output.components(separatedBy: "0 wrong").count == processes + 1, "\(job.output)")
    }
  }

  /// Killing one process mid-training ends the job within seconds with mpirun's message naming
  /// it, and the last checkpoint on disk is whole and resumes.
  @Test func aDeadProcessEndsTheJobAndTheCheckpointResumes() throws {
    let directory = try temporaryDirectory()
    let checkpoint = directory + "/job.ckpt"
    let (process, _, err) = try start(
      2, ["train", "lenet5", "--limit", "3200", "--batch", "64", "--epochs", "50", "--checkpoint", checkpoint, "--out", directory + "/w.safetensors"],
      in: directory)
    let deadline = Date().addingTimeInterval(120)
    while !FileManager.default.fileExists(atPath: checkpoint) && Date() < deadline && process.isRunning { Thread.sleep(forTimeInterval: 0.2) }
    #expect(FileManager.default.fileExists(atPath: checkpoint), "no checkpoint after the first epoch")
    let pgrep = Process()
    pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
    pgrep.arguments = ["-P", String(process.processIdentifier)]
    let listing = Pipe()
    pgrep.standardOutput = listing
    try pgrep.run()
    let children = String(decoding: listing.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
    pgrep.waitUntilExit()
    #expect(children.count == 2, "mpirun's processes: \(children)")
    let killed = Date()
    if let victim = children.last { kill(victim, SIGKILL) }
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let seconds = Date().timeIntervalSince(killed)
    #expect(process.terminationStatus != 0)
    #expect(seconds < 15, "the job took \(seconds) s to end")
    #expect(String(decoding: stderr, as: UTF8.self).contains("signal 9"), "\(String(decoding: stderr, as: UTF8.self))")
    // The checkpoint is whole and resumes in one process, for one more epoch.
    let epoch = try #require(try SafeTensors.read(checkpoint).metadata["epoch"].flatMap { Int($0) })
    let resumed = try CLITests().execute(
      "kiln", ["train", "lenet5", "--limit", "640", "--batch", "64", "--epochs", String(epoch + 1), "--resume", checkpoint, "--out", directory + "/r.safetensors"])
    #expect(resumed.status == 0 && resumed.stdout.contains("resumed"), "\(resumed.stderr)")
  }
}
