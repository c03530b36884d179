import Foundation
import Kiln

/// ONNX tensors and attributes as Kiln values.
extension Onnx_TensorProto {
  /// ONNX's element type codes that Kiln reads.
  enum ElementType: Int32 {
    case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, bool = 9, double = 11
  }

  /// Whether the tensor holds float or double values (others, integers, are settings).
  var holdsFloats: Bool { dataType == ElementType.float.rawValue || dataType == ElementType.double.rawValue }

  /// The tensor's values as floats (integers convert exactly up to 2²⁴), from its typed fields or
  /// its little-endian raw bytes.
  func floatTensor() throws -> Tensor<Float> {
    let shape = dims.map(Int.init)
    let count = try checkedCount(shape, of: "tensor \(name)")
    guard dataLocation != .external else {
      throw KilnError.invalidArgument("tensor \(name) keeps its data in an external file; save the model with the weights inside")
    }
    guard let type = ElementType(rawValue: dataType) else {
      throw KilnError.invalidArgument("tensor \(name) has ONNX element type \(dataType); Kiln reads float, double, int8/32/64, uint8 and bool")
    }
    var values: [Float]
    if !rawData.isEmpty {
      let width: Int = switch type {
      case .float, .int32: 4
      case .int64, .double: 8
      case .uint8, .int8, .bool: 1
      }
      guard rawData.count == count * width else {
        throw KilnError.invalidArgument("tensor \(name) \(shape) needs \(count * width) bytes of data but has \(rawData.count)")
      }
      // Read in place: no copy of the bytes (a VGG's classifier weight alone is 411 MB).
      values = rawData.withUnsafeBytes { bytes in
        (0..<count).map { i in
          let raw: UInt64 = switch width {
          case 8: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
          case 4: UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
          default: UInt64(bytes[i])
          }
          switch type {
          case .float: return Float(bitPattern: UInt32(truncatingIfNeeded: raw))
          case .double: return Float(Double(bitPattern: raw))
          case .int32: return Float(Int32(bitPattern: UInt32(truncatingIfNeeded: raw)))
          case .int64: return Float(Int64(bitPattern: raw))
          case .int8: return Float(Int8(bitPattern: UInt8(truncatingIfNeeded: raw)))
          case .uint8, .bool: return Float(raw)
          }
        }
      }
    } else {
      switch type {
      case .float: values = floatData
      case .double: values = doubleData.map { Float($0) }
      case .int64: values = int64Data.map { Float($0) }
      case .int32, .int8, .uint8, .bool: values = int32Data.map { Float($0) }
      }
    }
    guard values.count == count else {
      throw KilnError.invalidArgument("tensor \(name) \(shape) holds \(values.count) values instead of \(count)")
    }
    return try Tensor(shape: shape, scalars: values)
  }
}

/// The attributes of one node, by name, with typed accessors that name the node in errors.
struct ONNXAttributes {
  let node: Onnx_NodeProto
  private let byName: [String: Onnx_AttributeProto]

  init(_ node: Onnx_NodeProto) {
    self.node = node
    byName = Dictionary(node.attribute.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
  }

  func has(_ name: String) -> Bool { byName[name] != nil }

  /// Integers are clamped to ±2³¹: no meaningful CNN setting is larger, ONNX writes INT64_MAX
  /// for "to the end", and no shape arithmetic on clamped values can overflow.
  static func clamped(_ value: Int64) -> Int { Int(min(max(value, -(1 << 31)), 1 << 31)) }

  func int(_ name: String, default value: Int) -> Int { byName[name].map { Self.clamped($0.i) } ?? value }
  func float(_ name: String, default value: Float) -> Float { byName[name]?.f ?? value }
  func ints(_ name: String) -> [Int]? { byName[name].map { $0.ints.map(Self.clamped) } }
  func floats(_ name: String) -> [Float]? { byName[name].map(\.floats) }
  func string(_ name: String, default value: String) -> String {
    byName[name].map { String(decoding: $0.s, as: UTF8.self) } ?? value
  }
  func tensor(_ name: String) -> Onnx_TensorProto? { byName[name].map(\.t) }
}

/// The element count of `shape`, or an error when a dimension is negative or the tensor would
/// exceed 2³¹ elements (which also keeps every later shape computation from overflowing).
func checkedCount(_ shape: [Int], of what: String) throws -> Int {
  var count = 1
  for dimension in shape {
    guard dimension >= 0, dimension <= 1 << 31 else { throw KilnError.invalidArgument("\(what) has dimension \(dimension)") }
    count *= dimension
    guard count <= 1 << 31 else { throw KilnError.invalidArgument("\(what) \(shape) has more than 2³¹ elements") }
  }
  return count
}

/// A setting read from a float tensor as an integer: finite, and within ±2³¹ unless `clamped`
/// (slice bounds such as INT64_MAX mean "to the end").
func settingInt(_ value: Float, clamped: Bool = false) throws -> Int {
  guard value.isFinite else { throw KilnError.invalidArgument("the setting \(value) is not a finite integer") }
  let limit = Float(1 << 31)
  if clamped { return Int(min(max(value, -limit), limit)) }
  guard abs(value) <= limit else { throw KilnError.invalidArgument("the setting \(value) is out of range") }
  return Int(value)
}
