/// Detection quality as PASCAL VOC measures it (the 2010+ rule: all-point interpolation).
public enum AveragePrecision {
  /// The average precision of each class and their mean over the classes that occur.
  public struct Report: Sendable {
    /// Per class: its AP, or nil when no image holds that class (left out of the mean).
    public var perClass: [Double?]
    /// The mean of the classes' APs (mAP).
    public var mean: Double
  }

  /// VOC average precision at `iouThreshold` for `classes` classes. `detections[i]` and
  /// `truths[i]` belong to image i. Per class, detections are taken by descending score over all
  /// images; each is a true positive when it overlaps a not yet matched true box of its class in
  /// its image by at least `iouThreshold` (the best-overlapping true box is the one tried), else a
  /// false positive. AP is the area under the precision–recall curve after making precision
  /// non-increasing in recall (every point counts, not 11 samples).
  public static func evaluate(detections: [[Detection]], truths: [[Detection]], classes: Int, iouThreshold: Float = 0.5) -> Report {
    precondition(detections.count == truths.count, "one list of detections per image with truths")
    let perClass = (0..<classes).map { label -> Double? in
      let positives = truths.reduce(0) { $0 + $1.filter { $0.label == label }.count }
      guard positives > 0 else { return nil }
      let ranked = detections.enumerated().flatMap { image, found in found.filter { $0.label == label }.map { (image, $0) } }
        .enumerated().sorted { $0.element.1.score > $1.element.1.score || ($0.element.1.score == $1.element.1.score && $0.offset < $1.offset) }
        .map(\.element)
      var matched = truths.map { [Bool](repeating: false, count: $0.count) }
      var hits: [Bool] = []
      for (image, detection) in ranked {
        let best = truths[image].indices.filter { truths[image][$0].label == label }
          .max { truths[image][$0].box.iou(detection.box) < truths[image][$1].box.iou(detection.box) }
        if let best, truths[image][best].box.iou(detection.box) >= iouThreshold, !matched[image][best] {
          matched[image][best] = true
          hits.append(true)
        } else {
          hits.append(false)
        }
      }
      return areaUnderCurve(hits: hits, positives: positives)
    }
    let present = perClass.compactMap { $0 }
    return Report(perClass: perClass, mean: present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count))
  }

  /// The all-point interpolated area under precision–recall for ranked hits (true positive or
  /// not) against `positives` true boxes.
  static func areaUnderCurve(hits: [Bool], positives: Int) -> Double {
    var (truePositives, recall, precision) = (0, [0.0], [1.0])
    for (rank, hit) in hits.enumerated() {
      if hit { truePositives += 1 }
      recall.append(Double(truePositives) / Double(positives))
      precision.append(Double(truePositives) / Double(rank + 1))
    }
    // Precision at recall r becomes the best precision at any recall ≥ r.
    for i in stride(from: precision.count - 2, through: 0, by: -1) { precision[i] = max(precision[i], precision[i + 1]) }
    return (1..<recall.count).reduce(0) { $0 + (recall[$1] - recall[$1 - 1]) * precision[$1] }
  }
}
