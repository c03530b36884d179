import CMPI
import Foundation
import Kiln

/// The processes of `mpirun -np N kiln train …`, through Open MPI's MPI_COMM_WORLD.
final class MPICommunicator: Communicator, @unchecked Sendable {
  let rank: Int
  let size: Int

  /// The job this process belongs to when mpirun started it (Open MPI sets
  /// OMPI_COMM_WORLD_SIZE), else nil: without mpirun, kiln neither starts MPI nor needs it.
  static func fromEnvironment() throws -> MPICommunicator? {
    guard ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil else { return nil }
    var (rank, size): (Int32, Int32) = (0, 1)
    guard kiln_mpi_start(&rank, &size) == MPI_SUCCESS else { throw KilnError.invalidArgument("MPI did not start, although mpirun started this process") }
    return MPICommunicator(rank: Int(rank), size: Int(size))
  }

  private init(rank: Int, size: Int) {
    self.rank = rank
    self.size = size
  }

  func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
    guard kiln_mpi_sum_floats(values.baseAddress, values.count) == MPI_SUCCESS else {
      throw KilnError.runtime(node: "all-reduce", message: "the sum over the \(size) processes failed on rank \(rank)")
    }
  }

  func allReduceSum(_ values: [Double]) throws -> [Double] {
    var sums = values
    guard kiln_mpi_sum_doubles(&sums, sums.count) == MPI_SUCCESS else {
      throw KilnError.runtime(node: "all-reduce", message: "the sum over the \(size) processes failed on rank \(rank)")
    }
    return sums
  }

  /// Ends MPI for this process (every process must, before it exits normally).
  func finish() { _ = kiln_mpi_finish() }
}
