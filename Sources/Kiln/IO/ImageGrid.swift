extension RGBImage {
  /// Tiles laid out in rows on a `background` canvas, each upscaled by `scale` and separated by
  /// `gap` pixels; a cell is as large as the largest tile. For panels of maps, filter grids and
  /// reconstructions side by side.
  public static func grid(_ rows: [[RGBImage]], scale: Int = 1, gap: Int = 2, background: UInt8 = 255) -> RGBImage {
    let tiles = rows.joined()
    let (cellWidth, cellHeight) = ((tiles.map(\.width).max() ?? 0) * scale, (tiles.map(\.height).max() ?? 0) * scale)
    let columns = rows.map(\.count).max() ?? 0
    var canvas = RGBImage(
      width: max(columns * (cellWidth + gap) - gap, 1), height: max(rows.count * (cellHeight + gap) - gap, 1), fill: background)
    for (row, tiles) in rows.enumerated() {
      for (column, tile) in tiles.enumerated() {
        canvas.draw(tile, x: column * (cellWidth + gap), y: row * (cellHeight + gap), scale: scale)
      }
    }
    return canvas
  }
}
