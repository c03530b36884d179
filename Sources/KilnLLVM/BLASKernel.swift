import Foundation
import KilnRuntime

/// Which OpenBLAS kernel runs GEMM, and whether it wastes an AVX-512 CPU.
///
/// Debian's OpenBLAS 0.3.21 picks its kernel from the CPU model when it loads; on CPUs newer than
/// it (Intel Emerald Rapids) it falls back to "Prescott" (SSE3), 5–8× slower than its SkylakeX
/// kernel on the same machine. `OPENBLAS_CORETYPE` overrides the choice, but only before the
/// library loads — so a program must set it and start again (`kiln` does, once).
public enum BLASKernel {
  /// The kernel OpenBLAS chose ("Cooperlake", "SkylakeX", "Haswell", "Prescott", …).
  public static var current: String { String(cString: kiln_blas_core()) }

  /// Pins OpenBLAS to `threads` threads (process-wide; by default it uses every core).
  public static func setThreads(_ threads: Int) { kiln_blas_set_threads(Int32(threads)) }

  static let avx512Kernels: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

  /// Whether the CPU has AVX-512 (from /proc/cpuinfo's flags).
  public static var cpuHasAVX512: Bool {
    ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains(" avx512f")
  }

  /// The kernel to ask for when OpenBLAS chose a slower one on an AVX-512 CPU and nobody set
  /// `OPENBLAS_CORETYPE`; nil when the choice is fine.
  public static var recommendedOverride: String? {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, cpuHasAVX512,
      !avx512Kernels.contains(current.lowercased())
    else { return nil }
    return "SkylakeX"
  }
}
