/// A plain-text table with aligned columns, for the CLI's reports (`summary`, `bench`, `zoo`).
package struct TextTable {
  package var header: [String]
  package var rows: [[String]] = []
  /// Columns whose cells are right-aligned (numbers).
  package var rightAligned: Set<Int>
  /// Rows before which a rule is drawn (a total line); `rows.count` draws one at the end.
  package var rulesBefore: Set<Int> = []

  package init(header: [String], rightAligned: Set<Int> = []) {
    self.header = header
    self.rightAligned = rightAligned
  }

  package mutating func append(_ row: [String]) { rows.append(row) }

  /// The header, a rule, and the rows, one per line.
  package var text: String {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
      let text = cells.enumerated().map { column, cell in
        let fill = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? fill + cell : cell + fill
      }.joined(separator: "  ")
      return String(text.reversed().drop { $0 == " " }.reversed())
    }
    let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))
    var lines = [line(header), rule]
    for (index, row) in rows.enumerated() {
      if rulesBefore.contains(index) { lines.append(rule) }
      lines.append(line(row))
    }
    if rulesBefore.contains(rows.count) { lines.append(rule) }
    return lines.joined(separator: "\n")
  }
}

/// `61706` → `61,706`.
package func grouped(_ value: Int) -> String {
  let digits = String(value.magnitude)
  var result = ""
  for (index, digit) in digits.enumerated() {
    if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
    result.append(digit)
  }
  return (value < 0 ? "-" : "") + result
}
