import KilnRuntime

/// Which OpenBLAS kernel runs GEMM.
///
/// Debian's OpenBLAS 0.3.21 picks its kernel from the CPU model when it loads; on CPUs newer than
/// it (Intel Emerald Rapids) it falls back to "Prescott" (SSE3), 5–8× slower than its SkylakeX
/// kernel on the same machine. `useNativeKernel()` (which every compiled model and every `.so`
/// context calls) switches it to the kernel family the CPU's instructions call for.
public enum BLASKernel {
  /// The kernel OpenBLAS runs ("Cooperlake", "SkylakeX", "Haswell", "Zen", "Prescott", …).
  public static var current: String { String(cString: kiln_blas_core()) }

  /// Pins OpenBLAS to `threads` threads (process-wide; by default it uses every core).
  public static func setThreads(_ threads: Int) { kiln_blas_set_threads(Int32(threads)) }

  /// Makes OpenBLAS use SkylakeX on an AVX-512 CPU, Haswell on an AVX2 one, when it chose an older
  /// kernel family (once per process; see `kiln_blas_use_native_core`).
  public static func useNativeKernel() { kiln_blas_use_native_core() }
}
