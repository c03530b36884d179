import Foundation
import RealModule

/// A small, fast, seedable generator (SplitMix64). Kiln uses it wherever results must be the same
/// on every run and every machine: weight initialisation, shuffling, dropout masks.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// A generator whose sequence `seed` fixes.
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return SplitMix64.mix(state)
  }

  /// The SplitMix64 output function: a bijective scramble of 64 bits, also usable as a
  /// stateless hash (dropout uses it to draw the mask bit of each element independently).
  public static func mix(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform double in [0, 1) with 53 random bits.
  public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A standard normal sample (Box–Muller).
  public mutating func nextNormal() -> Double {
    let u1 = max(nextUnit(), .leastNonzeroMagnitude)
    let u2 = nextUnit()
    return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
  }

  /// A 64-bit FNV-1a hash of `text`, stable across runs (unlike `Hasher`), used to derive
  /// per-parameter seeds from parameter names.
  public static func stableHash(_ text: String) -> UInt64 { stableHash(Data(text.utf8)) }

  /// A 64-bit FNV-1a hash of `bytes`, stable across runs (it names and checks the entries of
  /// the compiler's kernel cache).
  public static func stableHash(_ bytes: Data) -> UInt64 {
    bytes.withUnsafeBytes { raw in
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      for byte in raw {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
      }
      return hash
    }
  }
}
