import ArgumentParser

@main
struct KilnCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kiln",
    abstract: "Kiln: an ahead-of-time compiler for convolutional neural networks.",
    discussion: """
      <model> is a zoo name (see `kiln zoo`) or a model file written by Kiln (.json).

      Examples:
        kiln zoo
        kiln summary lenet5
        kiln run lenet5 --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --index 0
        kiln dump lenet5 --dot > lenet5.dot
      """,
    subcommands: [Summary.self, Run.self, Dump.self, ZooList.self])
}
