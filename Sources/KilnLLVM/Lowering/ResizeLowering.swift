import CLLVM
import Kiln

/// Resize and its gradient: each plane walked output position by output position, axis by axis,
/// with the taps of `ResizeAttrs.taps` (the interpreter's geometry) as constant tables of input
/// indices and weights per axis. Planes run in parallel.
enum ResizeLowering {
  /// `gradient`: the kernel is a `resize_grad`, scattering `dy` (its input) back into the
  /// resize's input shape (its output) by the same taps.
  static func emit(_ k: Kernel, _ a: ResizeAttrs, gradient: Bool) {
    let ir = k.ir
    let inputShape = gradient ? k.type.shape : k.inputTypes[0].shape
    let spatial = Array(inputShape.dropFirst(2))
    let axes = spatial.indices.map { axis in
      let taps = a.taps(axis: axis, inputSize: spatial[axis])
      return (count: taps[0].count, indices: ir.table(taps.flatMap { $0.map(\.index) }), weights: ir.table(taps.flatMap { $0.map { Float($0.weight) } }))
    }
    let (planes, inner, outer) = (inputShape[0] * inputShape[1], spatial.reduce(1, *), a.size.reduce(1, *))
    let tapsPerOutput = axes.map(\.count).reduce(1, *)
    if gradient { k.elementwise { _ in ir.float(0) } }
    k.parallelLoop(planes, work: outer * tapsPerOutput) { k, _, plane in
      let ir = k.ir
      let (source, target) = (k.inputs[0], k.output)
      let inputBase = ir.mul(plane, ir.int(inner))
      let outputBase = ir.mul(plane, ir.int(outer))
      /// Loops over the output positions of `axis` on, with `terms` (input offset, weight) for
      /// the axes before it and `position` the output offset so far.
      func walk(_ axis: Int, position: LLVMValueRef, terms: [(LLVMValueRef, LLVMValueRef)]) {
        ir.loop(a.size[axis]) { o in
          let here = ir.add(ir.mul(position, ir.int(a.size[axis])), o)
          let expanded = terms.flatMap { offset, weight in
            (0..<axes[axis].count).map { t -> (LLVMValueRef, LLVMValueRef) in
              let entry = ir.add(ir.mul(o, ir.int(axes[axis].count)), ir.int(t))
              let index = ir.loadInt(axes[axis].indices, entry)
              return (ir.add(ir.mul(offset, ir.int(spatial[axis])), index), ir.fmul(weight, ir.load(axes[axis].weights, entry)))
            }
          }
          guard axis == spatial.count - 1 else { return walk(axis + 1, position: here, terms: expanded) }
          let at = ir.add(outputBase, here)
          if gradient {
            let dy = ir.load(source, at)
            for (offset, weight) in expanded {
              let slot = ir.add(inputBase, offset)
              ir.store(ir.fma(weight, dy, ir.load(target, slot)), target, slot)
            }
          } else {
            let sum = expanded.reduce(ir.float(0)) { total, term in ir.fma(term.1, ir.load(source, ir.add(inputBase, term.0)), total) }
            ir.store(sum, target, at)
          }
        }
      }
      walk(0, position: ir.int(0), terms: [(ir.int(0), ir.float(1))])
    }
  }
}
