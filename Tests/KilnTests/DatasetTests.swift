import CZlib
import Foundation
import Testing

@testable import Kiln

@Suite struct DatasetTests {
  @Test func readsTheRealFashionMNISTTestSet() throws {
    let test = try FashionMNIST.load(.test)
    #expect(test.count == 10_000)
    #expect(test.imageShape == [1, 28, 28])
    // The test split holds exactly 1,000 images of each class.
    var counts = [Int](repeating: 0, count: 10)
    for label in test.labels { counts[label] += 1 }
    #expect(counts == Array(repeating: 1_000, count: 10))
    #expect(test.labels.prefix(5) == [9, 2, 1, 1, 6])
  }

  @Test func normalizationMatchesTheTrainingPixels() throws {
    let train = try Dataset(images: FashionMNIST.files(.train).images, labels: FashionMNIST.files(.train).labels, limit: 10_000)
    let pixels = train.pixels.map(Double.init)
    let mean = pixels.reduce(0, +) / Double(pixels.count)
    let std = (pixels.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(pixels.count)).squareRoot()
    #expect(abs(mean - Double(FashionMNIST.normalization.mean)) < 0.005)
    #expect(abs(std - Double(FashionMNIST.normalization.std)) < 0.005)
  }

  @Test func paddingAndBatches() throws {
    let data = try FashionMNIST.load(.test, limit: 10, padding: 2)
    #expect(data.imageShape == [1, 32, 32])
    let background = -FashionMNIST.normalization.mean / FashionMNIST.normalization.std
    let (images, labels) = data.batch([3, 0])
    #expect(images.shape == [2, 1, 32, 32])
    #expect(labels.scalars == [Float(data.labels[3]), Float(data.labels[0])])
    #expect(images[0, 0, 0, 0] == background && images[0, 0, 31, 31] == background)
    let batches = data.batchIndices(size: 4, shuffleSeed: 1)
    #expect(batches.count == 2 && batches.allSatisfy { $0.count == 4 })
    #expect(batches == data.batchIndices(size: 4, shuffleSeed: 1))
    #expect(batches != data.batchIndices(size: 4, shuffleSeed: 2))
    #expect(data.batchIndices(size: 4, shuffleSeed: nil, dropLast: false) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
  }

  /// Writes `bytes` to `path`, gzip-compressed when `gzip` is set.
  func write(_ bytes: [UInt8], to path: String, gzip: Bool = false) throws {
    if gzip {
      let file = try #require(gzopen(path, "wb"))
      _ = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
      gzclose(file)
    } else {
      try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
  }

  /// An IDX file of `count` 2×2 images.
  func images(_ count: UInt8) -> [UInt8] { [0, 0, 8, 3, 0, 0, 0, count, 0, 0, 0, 2, 0, 0, 0, 2] + Array(repeating: 7, count: 4 * Int(count)) }

  @Test func corruptFilesNameTheFileAndTheProblem() throws {
    let directory = try temporaryDirectory()
    let labels = directory + "/labels"
    try write([0, 0, 8, 1, 0, 0, 0, 2, 1, 3], to: labels)
    let path = directory + "/images"
    try write(images(2), to: path, gzip: true)
    let data = try Dataset(images: path, labels: labels)
    #expect(data.count == 2 && data.labels == [1, 3] && data.pixels[0] == Float(7) / 255)

    try write(Array(images(2).dropLast(3)), to: path)
    expectError("images", "has 5 data bytes but its dimensions [2, 2, 2] need 8", "truncated") {
      _ = try IDXFile(path: path)
    }
    try write([1, 2, 8, 1, 0, 0, 0, 0], to: path)
    expectError("images: is not an IDX file (bad magic number)") { _ = try IDXFile(path: path) }
    try write([0, 0, 0x0d, 1, 0, 0, 0, 0], to: path)
    expectError("only unsigned bytes (0x08)") { _ = try IDXFile(path: path) }
    try write([0, 0, 8, 3, 0, 0], to: path)
    expectError("truncated inside its header") { _ = try IDXFile(path: path) }
    // A gzip stream cut short.
    try write(images(200), to: path, gzip: true)
    let compressed = try Data(contentsOf: URL(fileURLWithPath: path))
    try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: path))
    expectError("images", "corrupt") { _ = try IDXFile(path: path) }
    // Labels that do not match the images.
    try write(images(3), to: path)
    expectError("labels: has labels of dimensions [2] for 3 images") { _ = try Dataset(images: path, labels: labels) }
    try write([0, 0, 8, 1, 0, 0, 0, 3, 1, 12, 0], to: labels)
    expectError("labels: holds label 12, outside 0..<10") { _ = try Dataset(images: path, labels: labels) }
    expectError("missing: no such file", "dataset-fashion-mnist") { _ = try IDXFile(path: directory + "/missing") }
  }

  /// Grey images repeated over three channels for RGB models; parts of a data set for processes.
  @Test func repeatedChannelsAndParts() throws {
    let data = try Dataset(images: [1, 2, 3, 4], shape: [1, 1, 2], labels: [0, 1], classCount: 2)
    let rgb = data.repeatingChannels(3)
    #expect(rgb.imageShape == [3, 1, 2] && rgb.pixels == [1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4] && rgb.labels == [0, 1])
    #expect(data.part(1, of: 2).pixels == [3, 4] && data.part(0, of: 2).labels == [0])
    expectError("5 pixels are not 2 images of shape [1, 1, 2]") { _ = try Dataset(images: [1, 2, 3, 4, 5], shape: [1, 1, 2], labels: [0, 1], classCount: 2) }
  }
}
