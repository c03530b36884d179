extension Graph {
  /// A stable text form, one node a line:
  /// `%3 conv1 = conv(%0, %1, %2) stride=1x1 pad=2x2 : [1,6,32,32]`.
  public var text: String {
    var lines = ["graph \(name) {"]
    for (index, node) in nodes.enumerated() {
      let arguments = "(" + node.inputs.map(\.description).joined(separator: ", ") + ")"
      let attributes = node.op.attributes.attributeText
      let tail = attributes.isEmpty ? "" : " " + attributes.joined(separator: " ")
      lines.append("  %\(index) \(node.name) = \(node.op.mnemonic)\(arguments)\(tail) : \(node.type)")
    }
    lines.append("  outputs " + outputs.map(\.description).joined(separator: ", "))
    for update in stateUpdates {
      lines.append("  update \(self[update.state].name) <- \(update.newValue)")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The graph in Graphviz dot: one box per node with its name, op and output type; parameters
  /// are drawn as ellipses.
  public var dot: String {
    var lines = ["digraph \"\(name)\" {", "  rankdir=TB;", "  node [shape=box, fontname=\"Helvetica\"];"]
    for (index, node) in nodes.enumerated() {
      var shape = ""
      if case .input = node.op { shape = ", shape=ellipse" }
      if case .parameter = node.op { shape = ", shape=ellipse, style=dashed" }
      lines.append("  n\(index) [label=\"\(node.name)\\n\(node.op.mnemonic)\\n\(node.type)\"\(shape)];")
      for input in node.inputs { lines.append("  n\(input.id) -> n\(index);") }
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }
}
