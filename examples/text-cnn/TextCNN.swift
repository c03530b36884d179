// Sentence classification with 1D convolutions over word embeddings (Kim 2014, Kiln's zoo
// `textcnn`): 400 short sentences about sports, cooking, weather and technology (sentences.tsv,
// one `label<TAB>sentence` a line, written for this example), four in five for training and every
// fifth held out for testing.
//
//   swift run -c release text-cnn --data examples/text-cnn/sentences.tsv
import ArgumentParser
import Foundation
import Kiln
import KilnLLVM

@main struct TextCNN: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "text-cnn", abstract: "Train a text CNN on labelled sentences and classify the held-out ones.")

  @Option(help: "Labelled sentences, `label<TAB>sentence` a line.")
  var data = "examples/text-cnn/sentences.tsv"
  @Option(help: "Epochs.")
  var epochs = 15
  @Option(help: "Tokens per sentence (longer ones are cut, shorter ones padded).")
  var length = 24

  static let batch = 16

  func run() throws {
    guard let text = try? String(contentsOfFile: data, encoding: .utf8) else {
      throw ValidationError("cannot read \(data): give the labelled sentences with --data")
    }
    let rows = try text.split(separator: "\n").enumerated().map { number, line -> (label: String, words: [String]) in
      let parts = line.split(separator: "\t", maxSplits: 1)
      guard parts.count == 2 else { throw ValidationError("\(data):\(number + 1): expected `label<TAB>sentence`") }
      return (String(parts[0]), parts[1].lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
    }
    let labels = Array(Set(rows.map(\.label))).sorted()
    let training = rows.enumerated().filter { $0.offset % 5 != 0 }.map(\.element)
    let test = rows.enumerated().filter { $0.offset % 5 == 0 }.map(\.element)
    // Token ids: 0 pads, 1 is a word the training sentences never used.
    var vocabulary: [String: Int] = [:]
    for word in training.flatMap(\.words) where vocabulary[word] == nil { vocabulary[word] = vocabulary.count + 2 }
    func tokens(_ words: [String]) -> [Float] {
      (0..<length).map { $0 < words.count ? Float(vocabulary[words[$0]] ?? 1) : 0 }
    }
    print("\(training.count) training and \(test.count) test sentences, \(labels.count) classes (\(labels.joined(separator: ", "))), \(vocabulary.count) words")

    func architecture(batch: Int) throws -> Graph {
      try Zoo.textCNN(length: length, vocabulary: vocabulary.count + 2, dim: 32, filters: 16, classes: labels.count, batch: batch)
    }
    let compiler = try Compiler()
    var trainer = try Trainer(model: Model(graph: architecture(batch: Self.batch), seed: 1), optimizer: Optimizer(.adam)) {
      try CompiledTraining($0, parameters: $1, compiler: compiler)
    }
    for epoch in 0..<epochs {
      var (correct, seen, loss) = (0, 0, 0.0)
      for indices in Dataset.batchIndices(count: training.count, size: Self.batch, shuffleSeed: UInt64(epoch)) {
        let batch = indices.map { training[$0] }
        let classes = batch.map { Float(labels.firstIndex(of: $0.label)!) }
        let step = try trainer.step(
          ["input": Tensor(shape: [Self.batch, length], scalars: batch.flatMap { tokens($0.words) }), "labels": Tensor(shape: [Self.batch], scalars: classes)],
          learningRate: 0.005)
        correct += zip(step.logits.argmaxRows(), classes).filter { $0 == Int($1) }.count
        seen += batch.count
        loss += Double(step.loss) * Double(batch.count)
      }
      print(String(format: "epoch %d: loss %.4f, training accuracy %.1f%%", epoch + 1, loss / Double(seen), 100 * Double(correct) / Double(seen)))
    }

    let model = try Model(graph: architecture(batch: 1), parameters: trainer.trainedModel.parameters)
    let compiled = try compiler.compile(model)
    var correct = 0
    for (index, row) in test.enumerated() {
      let predicted = labels[try compiled.predict(Tensor(shape: [1, length], scalars: tokens(row.words))).argmaxRows()[0]]
      if predicted == row.label { correct += 1 }
      if index < 4 { print("\"\(row.words.joined(separator: " "))\" → \(predicted) (\(row.label))") }
    }
    print(String(format: "test accuracy %.1f%% (%d of %d held-out sentences)", 100 * Double(correct) / Double(test.count), correct, test.count))
  }
}
