import Foundation

/// Reading and writing the safetensors format: an 8-byte little-endian header length, a JSON
/// header mapping each tensor name to `{dtype, shape, data_offsets}`, then the raw little-endian
/// data. It is the format PyTorch users exchange weights in, so Kiln's weights and checkpoints use it.
public enum SafeTensors {
  /// Writes `tensors` as F32, in order, to `path`, atomically.
  public static func write(_ tensors: [(name: String, tensor: Tensor<Float>)], metadata: [String: String] = [:], to path: String) throws {
    try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
  }

  /// Writes the tensors of `store` as F32, in order, to `path`, atomically.
  public static func write(_ store: ParameterStore, metadata: [String: String] = [:], to path: String) throws {
    try write(store.entries, metadata: metadata, to: path)
  }

  /// Reads every tensor of `path` (F32; F64, I32 and I64 converted to F32), in file order and
  /// by name.
  public static func read(_ path: String) throws -> (tensors: ParameterStore, metadata: [String: String]) {
    try decode(AtomicFile.read(path), path: path)
  }

  static func encode(_ tensors: [(name: String, tensor: Tensor<Float>)], metadata: [String: String]) throws -> Data {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    for (name, tensor) in tensors {
      let bytes = tensor.count * 4
      header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
    var data = Data()
    data.reserveCapacity(8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    // Little-endian float32 bit patterns, a tensor at a time (one append each: a checkpoint of
    // VGG-11-CIFAR's 18 million floats spent seconds appending them one by one).
    for (_, tensor) in tensors { tensor.scalars.map { $0.bitPattern.littleEndian }.withUnsafeBytes { data.append(contentsOf: $0) } }
    return data
  }

  static func decode(_ data: Data, path: String) throws -> (tensors: ParameterStore, metadata: [String: String]) {
    func fail(_ message: String) -> KilnError { .file(path: path, message: "not a valid safetensors file: \(message)") }
    let bytes = [UInt8](data)
    guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes is too short for the header length") }
    let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    guard headerLength <= UInt64(bytes.count - 8) else {
      throw fail("the header claims \(headerLength) bytes but the file has \(bytes.count - 8) after the length; is it truncated?")
    }
    let dataStart = 8 + Int(headerLength)
    guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
      throw fail("the header is not a JSON object")
    }
    let metadata = header["__metadata__"] as? [String: String] ?? [:]
    var entries: [(name: String, tensor: Tensor<Float>, begin: Int, end: Int)] = []
    for (name, value) in header where name != "__metadata__" {
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
        let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
        shape.allSatisfy({ $0 >= 0 })
      else { throw fail("the entry of \(name) needs dtype, shape and two data_offsets") }
      // The element width and how its little-endian bits become a Float.
      let (width, convert): (Int, (UInt64) -> Float)
      switch dtype {
      case "F32": (width, convert) = (4, { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) })
      case "F64": (width, convert) = (8, { Float(Double(bitPattern: $0)) })
      case "I32": (width, convert) = (4, { Float(Int32(bitPattern: UInt32(truncatingIfNeeded: $0))) })
      case "I64": (width, convert) = (8, { Float(Int64(bitPattern: $0)) })
      default: throw fail("\(name) has dtype \(dtype); Kiln reads F32, F64, I32 and I64 (convert with tensor.float())")
      }
      let (begin, end) = (offsets[0], offsets[1])
      guard begin >= 0, begin <= end, end <= bytes.count - dataStart else {
        throw fail("\(name) spans bytes \(begin)..<\(end) but the data has \(bytes.count - dataStart); is the file truncated?")
      }
      guard let count = Checked.product(shape), let size = Checked.product([count, width]), end - begin == size else {
        throw fail("\(name) has shape \(shape) (\(Checked.describeProduct(shape + [width])) bytes of \(dtype)) but spans \(end - begin) bytes")
      }
      let scalars: [Float] = (0..<count).map { i in
        let at = dataStart + begin + i * width
        return convert((0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) })
      }
      entries.append((name, Tensor(validShape: shape, scalars: scalars), begin, end))
    }
    entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
    for (previous, next) in zip(entries, entries.dropFirst()) where next.begin < previous.end {
      throw fail("\(previous.name) and \(next.name) overlap")
    }
    return (ParameterStore(entries.map { ($0.name, $0.tensor) }), metadata)
  }
}
