import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// `kiln compile`'s library half: a self-contained `.so` and header, used from the C example.
@Suite struct SharedObjectTests {
  let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  func shell(_ command: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func lenet5SharedObjectRunsFromCWithTheJITsAccuracy() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-so-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
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
    #expect(exported == ["lenet5_create", "lenet5_destroy", "lenet5_infer", "lenet5_last_error", "lenet5_set_threads"])

    let count = 200
    let build = try shell("make -s -C \(packageRoot.path)/examples/embed-c classify MODEL_DIR=\(directory) && mv \(packageRoot.path)/examples/embed-c/classify \(directory)/")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("\(directory)/classify \(FashionMNIST.defaultDirectory) \(count)")
    #expect(run.status == 0, "\(run.output)")

    let compiled = try compiler.compile(model)
    let test = try FashionMNIST.load(.test, limit: count, padding: 2)
    var correct = 0
    for index in 0..<count {
      let (image, label) = test.batch([index])
      if try compiled.predict(image).argmaxRows()[0] == Int(label.scalars[0]) { correct += 1 }
    }
    #expect(run.output.contains("accuracy \(correct)/\(count) ="), "\(run.output)")
  }
}
