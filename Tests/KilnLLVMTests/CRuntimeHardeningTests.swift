import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// The parts of the C runtime that run inside users' programs on their files: the safetensors
/// reader under AddressSanitizer and UBSan, concurrent saves, and installs onto a full disk.
@Suite struct CRuntimeHardeningTests {
  let runtime = packageRoot.appendingPathComponent("runtime").path
  let drivers = packageRoot.appendingPathComponent("Tests/CRuntime").path

  /// Builds a driver of Tests/CRuntime with the runtime's file code, under ASan and UBSan.
  func build(_ driver: String, in directory: String) throws -> String {
    let binary = "\(directory)/\(driver)"
    let sources = ["safetensors.c", "atomic_file.c", "status.c"].map { "\(runtime)/\($0)" }.joined(separator: " ")
    let result = try shell(
      "cc -std=c99 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -fno-sanitize-recover=all -I \(runtime)/include"
        + " -o \(binary) \(drivers)/\(driver).c \(sources) -lpthread")
    #expect(result.status == 0, "\(result.output)")
    return binary
  }

  @Test func fuzzedSafetensorsFilesNeverFaultTheCReader() throws {
    let directory = try temporaryDirectory("kiln-fuzz")
    let fuzz = try build("safetensors_fuzz", in: directory)
    for seed in [1, 18] {
      let run = try shell("ASAN_OPTIONS=detect_leaks=1 \(fuzz) \(directory) \(seed) 3000")
      #expect(run.status == 0, "\(run.output.suffix(3000))")
      #expect(run.output.contains("21 hostile files refused, 3000 mutated files"), "\(run.output.suffix(3000))")
    }
  }

  @Test func concurrentSavesToOnePathNeverFailOrTear() throws {
    let directory = try temporaryDirectory("kiln-saves")
    let saves = try build("concurrent_saves", in: directory)
    let run = try shell("\(saves) \(directory)/w.safetensors 400")
    #expect(run.status == 0 && run.output.contains("400 saves per thread: 0 and 0 failed, 0 loads failed, 0 torn"), "\(run.output)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["concurrent_saves", "w.safetensors"])
  }

  /// A writer killed before it commits leaves neither a torn destination nor a temporary file.
  @Test func aKilledWriterLeavesNothingBehind() throws {
    let directory = try temporaryDirectory("kiln-killed")
    let program = """
      #include <signal.h>
      #include "kiln_runtime.h"
      int main(int argc, char **argv) {
        kiln_atomic_file file;
        if (kiln_atomic_file_open(&file, argv[1], 0, 0) != KILN_OK) return 1;
        kiln_atomic_file_write(&file, "half a file", 11, 0, 0);
        raise(SIGKILL);
        return 0;
      }
      """
    try program.write(toFile: directory + "/killed.c", atomically: true, encoding: .utf8)
    try Data("the good file".utf8).write(to: URL(fileURLWithPath: directory + "/w.safetensors"))
    let build = try shell("cc -std=c99 -I \(runtime)/include -o \(directory)/killed \(directory)/killed.c \(runtime)/atomic_file.c")
    #expect(build.status == 0, "\(build.output)")
    let run = try shell("\(directory)/killed \(directory)/w.safetensors")
    #expect(run.status != 0)
    #expect(try String(contentsOfFile: directory + "/w.safetensors", encoding: .utf8) == "the good file")
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["killed", "killed.c", "w.safetensors"])
  }

  /// `kiln compile` onto a full file system (a 192 KiB tmpfs; mounting needs root, as CI is):
  /// a clear error, the old library and header untouched, and no temporary file left.
  @Test func compilingOntoAFullDiskKeepsTheOldPair() throws {
    let mount = try temporaryDirectory("kiln-full")
    let mounted = try shell("mount -t tmpfs -o size=192k kiln-full \(mount)")
    try #require(mounted.status == 0, "this test mounts a small tmpfs and needs root: \(mounted.output)")
    defer { _ = try? shell("umount \(mount)") }
    try Data("old library".utf8).write(to: URL(fileURLWithPath: mount + "/lenet5.so"))
    try Data("old header".utf8).write(to: URL(fileURLWithPath: mount + "/lenet5.h"))
    let model = try Model(graph: Zoo.lenet5(), seed: 3)
    #expect {
      try Compiler().emitSharedObject(model, to: mount + "/lenet5.so")
    } throws: { error in
      "\(error)".contains("\(mount)/lenet5.so: cannot write: No space left on device")
    }
    #expect(try String(contentsOfFile: mount + "/lenet5.so", encoding: .utf8) == "old library")
    #expect(try String(contentsOfFile: mount + "/lenet5.h", encoding: .utf8) == "old header")
    #expect(try FileManager.default.contentsOfDirectory(atPath: mount).sorted() == ["lenet5.h", "lenet5.so"])
  }
}
