import Kiln
import Testing

@testable import KilnLLVM

/// Code for a named CPU: its vectors are those LLVM says the CPU has, at full width (a named CPU
/// is planned as its own, not as the host's half-width unit), and a name LLVM does not know is
/// an error rather than code for a generic CPU.
struct TargetCPUTests {
  @Test(arguments: [("x86-64-v3", 8), ("znver3", 8), ("haswell", 8), ("x86-64-v4", 16), ("skylake-avx512", 16), ("cascadelake", 16), ("icelake-server", 16)])
  func namedCPUsHaveTheirOwnVectors(cpu: String, lanes: Int) throws {
    let compiler = try Compiler(targetCPU: cpu)
    #expect(compiler.vectors.lanes == lanes && !compiler.vectors.halfWidth)
    #expect(compiler.targetDescription.hasPrefix(cpu) && compiler.targetDescription.hasSuffix(", AVX-512") == (lanes == 16))
  }

  @Test func anUnknownCPUIsAnError() {
    #expect {
      try Compiler(targetCPU: "znver9")
    } throws: { error in
      "\(error)".contains("LLVM 14 does not know the CPU \"znver9\"") && "\(error)".contains("x86-64-v3")
    }
  }
}
