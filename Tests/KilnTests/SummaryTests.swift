import Foundation
import Testing

@testable import Kiln

@Suite struct SummaryTests {
  @Test func lenet5CountsAndReceptiveFields() throws {
    let summary = Summary(try Zoo.lenet5())
    // 156 + 2,416 + 48,120 + 10,164 + 850.
    #expect(summary.trainableParameters == 61_706)
    #expect(summary.stateParameters == 0)
    // 28²·6·25 + 10²·16·150 + 120·400 + 84·120 + 10·84.
    #expect(summary.multiplyAdds == 117_600 + 240_000 + 48_000 + 10_080 + 840)
    let fields = Dictionary(uniqueKeysWithValues: summary.rows.map { ($0.name, $0.receptiveField) })
    // r = r + (k − 1)·j, j = j·s: conv1 5/1, pool1 6/2, conv2 14/2, pool2 16/4, conv3 32/4.
    #expect(fields["conv1"]! == ReceptiveField(size: [5, 5], jump: [1, 1], start: [0, 0]))
    #expect(fields["pool1"]! == ReceptiveField(size: [6, 6], jump: [2, 2], start: [0, 0]))
    #expect(fields["conv2"]! == ReceptiveField(size: [14, 14], jump: [2, 2], start: [0, 0]))
    #expect(fields["pool2"]! == ReceptiveField(size: [16, 16], jump: [4, 4], start: [0, 0]))
    #expect(fields["conv3"]! == ReceptiveField(size: [32, 32], jump: [4, 4], start: [0, 0]))
    #expect(fields["fc1"]! == nil)
    #expect(summary.rows.first { $0.name == "conv2" }?.parameters == 2_416)
  }

  @Test func dilationWidensTheReceptiveField() throws {
    let graph = try Graph(name: "dilated", input: [1, 1, 32]) {
      Conv1D(1, kernel: 3, dilation: 1)
      Conv1D(1, kernel: 3, dilation: 2)
      Conv1D(1, kernel: 3, dilation: 4)
    }
    // 3, then 3 + 2·2 = 7, then 7 + 2·4 = 15.
    let fields = Summary(graph).rows.compactMap(\.receptiveField).map(\.size)
    #expect(fields == [[3], [7], [15]])
  }

  @Test func stateIsCountedApartAndTheTableReads() throws {
    let summary = Summary(try Graph(name: "bn", input: [1, 3, 8, 8]) {
      Conv2D(8, kernel: 3, bias: false)
      BatchNorm()
    })
    #expect(summary.trainableParameters == 8 * 3 * 9 + 16)
    #expect(summary.stateParameters == 16)
    #expect(summary.text.contains("Parameters: 248 (trainable 232, state 16)"))
    let json = try JSONEncoder().encode(summary)
    let decoded = try JSONDecoder().decode(Summary.self, from: json)
    #expect(decoded.rows.map(\.name) == ["conv1", "bn1"])
  }

  @Test func thousandsSeparators() {
    #expect(grouped(0) == "0")
    #expect(grouped(999) == "999")
    #expect(grouped(61_706) == "61,706")
    #expect(grouped(-1_234_567) == "-1,234,567")
  }
}
