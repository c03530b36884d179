/// The processes of a data-parallel training job, as the host program reaches them (MPI, in
/// `kiln train` under `mpirun`). Compiled training steps call `allReduceSum` once per step on
/// their joined gradients; the host calls it for anything else it sums (test accuracy).
public protocol Communicator: AnyObject, Sendable {
  /// This process's index, 0 ..< `size`.
  var rank: Int { get }
  /// The number of processes.
  var size: Int { get }
  /// Replaces `values`, on every process, by their elementwise sum over all processes.
  func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
  /// The elementwise sum of `values` over all processes.
  func allReduceSum(_ values: [Double]) throws -> [Double]
}

/// One process's part of each global batch in data-parallel training.
public struct BatchShare: Sendable, Hashable {
  /// The batch all processes together take per step.
  public var globalBatch: Int
  /// Where this process's samples start in each global batch.
  public var offset: Int
  /// How many samples of each global batch are this process's.
  public var count: Int

  /// Process `rank` of `size`'s share of `globalBatch`: contiguous parts, the first
  /// `globalBatch % size` processes taking one sample more when the batch does not divide.
  public init(globalBatch: Int, rank: Int, size: Int) throws {
    guard size >= 1, (0..<size).contains(rank), globalBatch >= size else {
      throw KilnError.invalidArgument(
        "a global batch of \(globalBatch) cannot be shared by \(size) processes (process \(rank)): give a batch of at least \(size)")
    }
    let part = contiguousPart(rank, of: size, in: globalBatch)
    self.globalBatch = globalBatch
    offset = part.lowerBound
    count = part.count
  }

  /// This process's weight in the gradient sum: its samples ÷ the global batch.
  public var weight: Double { Double(count) / Double(globalBatch) }
}

/// Part `index` of 0..<`count` cut into `parts` contiguous, nearly equal ranges, the first
/// `count % parts` one longer: a process's share of a batch or of a data set.
func contiguousPart(_ index: Int, of parts: Int, in count: Int) -> Range<Int> {
  let (base, extra) = count.quotientAndRemainder(dividingBy: parts)
  let start = index * base + min(index, extra)
  return start..<(start + base + (index < extra ? 1 : 0))
}
