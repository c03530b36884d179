import RealModule

/// The element types the reference interpreter runs in: `Float` (what compiled code uses) and
/// `Double` (for finite-difference gradient checks).
public protocol KilnScalar: Real, BinaryFloatingPoint, Codable, Sendable {}

extension Float: KilnScalar {}
extension Double: KilnScalar {}
