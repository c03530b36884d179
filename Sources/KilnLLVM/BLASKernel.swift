import KilnRuntime

/// Which OpenBLAS kernel runs GEMM.
///
/// Debian's OpenBLAS 0.3.21 picks its kernel from the CPU model when it loads; on CPUs newer than
/// it (Intel Emerald Rapids) it falls back to "Prescott" (SSE3), 5–8× slower than its SkylakeX
/// kernel on the same machine. `prepare()` (which every compiled model and every `.so` context
/// calls) switches it to the kernel family the CPU's instructions call for, and to one thread per
/// call: Kiln runs its products on its own threads.
public enum BLASKernel {
  /// The kernel OpenBLAS runs ("Cooperlake", "SkylakeX", "Haswell", "Zen", "Prescott", …).
  public static var current: String { String(cString: kiln_blas_core()) }

  /// Makes OpenBLAS use SkylakeX on an AVX-512 CPU, Haswell on an AVX2 one, when it chose an older
  /// kernel family, and run each call on its caller's thread (once per process; see
  /// `kiln_blas_prepare`).
  public static func prepare() { kiln_blas_prepare() }
}
