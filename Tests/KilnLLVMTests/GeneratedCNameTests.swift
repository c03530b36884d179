import Foundation
import Kiln
import Testing

@testable import KilnLLVM

/// Names from model and ONNX files reach generated C only as escaped literals and sanitised
/// identifiers: hostile names neither inject code nor break the build.
@Suite struct GeneratedCNameTests {
  /// Pieces hostile names are made of: comment ends and starts, quotes, backslashes, newlines,
  /// trigraphs, preprocessor lines, non-ASCII, and C keywords.
  static let pieces = [
    "*/", "/*", "//", "\"", "\\", "\n", "\r", "\t", "??/", "??=", "?", "#define X", "é", "💥", "\u{7F}", "int", "a.b", "a_b", "A.B",
    " ", "0", "conv", "__attribute__((constructor))", "'", "%s", "`", "$", "\\\n", "*", "/",
  ]

  /// A seeded name of one to six pieces.
  static func name(_ generator: inout SplitMix64) -> String {
    (0...(generator.next() % 6)).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
  }

  @Test func literalsAndIdentifiersOfKnownNames() {
    #expect(CSource.stringLiteral("fc2.bias") == "\"fc2.bias\"")
    #expect(CSource.stringLiteral("a\"*/b\\??/\né") == "\"a\\042*\\057b\\134\\077\\077/\\012\\303\\251\"")
    #expect(CSource.identifier("fc2.out") == "fc2_out")
    #expect(CSource.identifier("2x") == "v2x")
    #expect(CSource.identifier("_x") == "v_x")
    #expect(CSource.identifier("") == "unnamed")
    #expect(CSource.identifier("é*/") == "v___")
    var scope = CSource.Identifiers(reserved: ["context"], reservedPrefixes: ["lenet5_"])
    #expect(["a.b", "a_b", "A.B", "int", "context", "lenet5_OK", "x"].map { scope.make($0) } == [
      "a_b", "a_b_2", "A_B_3", "int_2", "context_2", "v_lenet5_OK", "x",
    ])
  }

  /// Hundreds of seeded hostile names through one C program: each literal spells its name's
  /// bytes exactly, also inside a comment, and each identifier declares a distinct variable.
  @Test func seededNamesSurviveTheCCompiler() throws {
    var generator = SplitMix64(seed: 18)
    let names = (0..<400).map { _ in GeneratedCNameTests.name(&generator) }
    var scope = CSource.Identifiers()
    let identifiers = names.map { scope.make($0) }
    #expect(Set(identifiers.map { $0.uppercased() }).count == names.count)
    let directory = try temporaryDirectory("kiln-names")
    let declarations = zip(names, identifiers).enumerated().map { index, pair in
      "/* \(CSource.stringLiteral(pair.0)) */\nstatic const char *const \(pair.1) = \(CSource.stringLiteral(pair.0));\n"
    }
    let program = """
      #include <stdio.h>
      \(declarations.joined())
      int main(void) {
        const char *const all[] = {\(identifiers.joined(separator: ", "))};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
          for (const unsigned char *c = (const unsigned char *)all[i]; *c; c++) printf("%02x", *c);
          printf("\\n");
        }
        return 0;
      }
      """
    try program.write(toFile: directory + "/names.c", atomically: true, encoding: .utf8)
    let build = try shell("cc -std=c99 -Wall -Werror -Wtrigraphs -trigraphs -o \(directory)/names \(directory)/names.c")
    #expect(build.status == 0, "\(build.output.prefix(2000))")
    let printed = try shell("\(directory)/names").output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let expected = names.map { $0.utf8.map { String(format: "%02x", $0) }.joined() }
    #expect(Array(printed.prefix(names.count)) == expected)
  }

  /// A model whose every name is hostile compiles to a library that runs no injected code, keeps
  /// its exports to the C API, and finds its weights by their exact names.
  @Test func hostileModelNamesCompileToASafeLibrary() throws {
    let payload = "x\"); } __attribute__((constructor)) static void injected(void) { puts(\"INJECTED\"); } /* */ "
    var generator = SplitMix64(seed: 7)
    for round in 0..<3 {
      let names = (0..<3).map { _ in GeneratedCNameTests.name(&generator) }
      var graph = Graph(name: "model */ \(payload) \(names[0])")
      let inputNames = ["*/x\n#error injected", "a.b", "a_b"]
      let inputs = try inputNames.map { try graph.append($0, .input(InputAttrs(TensorType([1, 4])))) }
      let weight = try graph.append("w\" \(payload) \(names[1])", .parameter(ParameterAttrs(TensorType([2, 4]), initializer: .heNormal)))
      let sum = try graph.append("s ??/\n\(names[2])", .binary(BinaryAttrs(.add)), inputs: [inputs[0], inputs[1]])
      let total = try graph.append("t", .binary(BinaryAttrs(.add)), inputs: [sum, inputs[2]])
      graph.outputs = [try graph.append("int", .dense(DenseAttrs()), inputs: [total, weight])]
      let model = try Model(graph: graph, seed: UInt64(round))
      let directory = try temporaryDirectory("kiln-names")
      let header = try Compiler().emitSharedObject(model, to: directory + "/m.so", prefix: "m")
      let text = try String(contentsOfFile: header, encoding: .utf8)
      #expect(text.contains("int m_infer(m_context *context, const float *v__x__error_injected, const float *a_b, const float *a_b_2, float *int_2);"), "\(text)")
      #expect(!text.contains("INJECTED\""), "\(text)")

      let weightName = CSource.stringLiteral(graph[weight].name)
      let program = """
        #include <stdio.h>
        #include "m.h"
        int main(void) {
          m_context *model;
          if (m_create(&model) != M_OK) return 1;
          float x[M_INPUT_V__X__ERROR_INJECTED_SIZE] = {1, 2, 3, 4}, y[M_INPUT_A_B_SIZE] = {0}, z[M_INPUT_A_B_2_SIZE] = {0};
          float out[M_OUTPUT_INT_2_SIZE], w[8];
          int status = m_get_weights(model, \(weightName), w, 8);
          printf("get %d\\n", status);
          status = m_infer(model, x, y, z, out);
          printf("infer %d %.6g %.6g\\n", status, out[0], out[1]);
          printf("save %d\\n", m_save_weights(model, "saved.safetensors"));
          m_destroy(model);
          return 0;
        }
        """
      try program.write(toFile: directory + "/main.c", atomically: true, encoding: .utf8)
      let build = try shell(
        "cc -Wall -Werror -I\(directory) -o \(directory)/main \(directory)/main.c \(directory)/m.so -Wl,-rpath,\(directory)"
          + " && c++ -fsyntax-only -x c++ -Wall -Werror -I\(directory) \(directory)/main.c")
      #expect(build.status == 0, "\(build.output.prefix(3000))")
      let run = try shell("cd \(directory) && ./main")
      #expect(run.status == 0 && !run.output.contains("INJECTED"), "\(run.output)")
      #expect(run.output.contains("get 0") && run.output.contains("save 0"), "\(run.output)")
      // The C writer escapes the name in its JSON header; Swift reads it back exactly.
      #expect(try SafeTensors.read(directory + "/saved.safetensors").tensors.map(\.name) == [graph[weight].name])
      let feeds = Dictionary(uniqueKeysWithValues: zip(inputNames, try [[1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]].map { try Tensor<Float>(shape: [1, 4], scalars: $0) }))
      let expected = try model.run(feeds)[0].scalars
      #expect(run.output.contains(String(format: "infer 0 %.6g %.6g", expected[0], expected[1])), "\(run.output) \(expected)")
      let exported = try shell("nm -D --defined-only \(directory)/m.so | awk '{print $3}'").output
      #expect(exported.split(separator: "\n").allSatisfy { $0.hasPrefix("m_") }, "\(exported)")
    }
  }
}
