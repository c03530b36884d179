/// Greedy non-maximum suppression: of detections that overlap, only the highest-scoring survives.
public enum NonMaximumSuppression {
  /// The detections that survive, best first: walking them by descending score (ties keep the
  /// given order), a detection is kept unless its IoU with an already kept detection of the same
  /// class (of any class when `perClass` is false) exceeds `iouThreshold`. At most
  /// `maxDetections` are kept. The C runtime's `kiln_nms` computes the same in the same order.
  public static func apply(
    _ detections: [Detection], iouThreshold: Float, perClass: Bool = true, maxDetections: Int = .max
  ) -> [Detection] {
    let order = detections.indices.sorted { detections[$0].score > detections[$1].score || (detections[$0].score == detections[$1].score && $0 < $1) }
    var kept: [Detection] = []
    for candidate in order.map({ detections[$0] }) where kept.count < maxDetections {
      let suppressed = kept.contains { (!perClass || $0.label == candidate.label) && $0.box.iou(candidate.box) > iouThreshold }
      if !suppressed { kept.append(candidate) }
    }
    return kept
  }
}
