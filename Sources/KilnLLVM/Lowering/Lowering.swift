import CLLVM
import Kiln
import RealModule

/// How each op becomes loops (or BLAS calls). One case per op; ops the backend cannot lower yet
/// throw an error naming the node.
enum Lowering {
  /// Scratch elements a node's kernel needs (im2col columns and the like) on a target with the
  /// vector unit `vectors`.
  static func scratchSize(_ node: Node, _ graph: Graph, vectors: VectorUnit) -> Int {
    let lanes = vectors.lanes
    let types = node.inputs.map { graph[$0].type.shape }
    switch node.op {
    case .conv(let a):
      return ConvolutionLowering.Algorithm(a, x: types[0], weight: types[1], output: node.type.shape, vectors: vectors, weightsChange: weightsChange(node, graph))
        .scratchSize(a, x: types[0], weight: types[1], output: node.type.shape)
    case .convWeightGrad(let a):
      return GradientLowering.WeightGradient(a, x: types[0], dy: types[1], weight: node.type.shape, lanes: lanes)
        .scratchSize(a, x: types[0], dy: types[1], weight: node.type.shape)
    case .convInputGrad(let a):
      return InputGradientConvolution(a, dy: types[0], weight: types[1], vectors: vectors)?.scratchSize
        ?? ConvolutionShape(x: node.type.shape, weight: types[1], output: types[0], groups: a.conv.groups).inputGradientScratchSize
    case .convTranspose:
      // One group's columns: (C_out / groups)·taps × input positions.
      return types[1][1...].reduce(1, *) * types[0][2...].reduce(1, *)
    case .reduceGrad(let a) where a.reduce.kind == .max: return 2 * node.type.elementCount
    // The means the deviations are taken from.
    case .reduceGrad(let a) where a.reduce.kind == .variance: return types[1].reduce(1, *)
    case .reduce(let a) where a.kind == .variance: return node.type.elementCount
    case .lrnGrad: return LRNLowering.scratchSize(node.type)
    case .input, .parameter, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary, .fusedElementwise, .maxout,
      .softmax, .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout, .loss, .allReduce,
      .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad,
      .lossGrad:
      return 0
    }
  }

  /// Elements a node's kernel keeps between runs on a target with the vector unit `vectors`
  /// (weights it transforms once), starting with the float that says they are current (see
  /// `Program.keptFlags`).
  static func persistentSize(_ node: Node, _ graph: Graph, vectors: VectorUnit) -> Int {
    let types = node.inputs.map { graph[$0].type.shape }
    switch node.op {
    case .conv(let a):
      return ConvolutionLowering.Algorithm(a, x: types[0], weight: types[1], output: node.type.shape, vectors: vectors, weightsChange: weightsChange(node, graph))
        .persistentSize
    case .convInputGrad(let a): return InputGradientConvolution(a, dy: types[0], weight: types[1], vectors: vectors)?.persistentSize ?? 0
    case .input, .parameter, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary, .fusedElementwise,
      .maxout, .softmax, .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout, .loss,
      .allReduce, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad,
      .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      return 0
    }
  }

  /// Whether `node`'s kernel adds a residual connection's shortcut to its outputs (`Fusion`):
  /// convolutions that run on the direct kernel, which reads it in vectors as it stores its
  /// tiles. (Winograd's output transform gained nothing from it: ResNet-18 at batch 1 on Zen 4,
  /// shortcut read one element at a time across channels, 21.1–21.3 ms against 20.5 with the sums
  /// apart; read in rows of a tile after its outputs are interleaved, 21.4–26.0 against 20.9–22.3.)
  static func takesResidual(_ node: Node, _ graph: Graph, vectors: VectorUnit) -> Bool {
    guard case .conv(let a) = node.op else { return false }
    let types = node.inputs.map { graph[$0].type.shape }
    switch ConvolutionLowering.Algorithm(a, x: types[0], weight: types[1], output: node.type.shape, vectors: vectors, weightsChange: weightsChange(node, graph)) {
    case .direct, .channelVectors: return true
    case .winograd, .depthwise, .columns: return false
    }
  }

  /// Whether `node`'s weights (its second input) may differ from one run to the next without a
  /// parameter being written by the caller: a parameter `graph` updates (on every run), or a
  /// value the graph computes.
  static func weightsChange(_ node: Node, _ graph: Graph) -> Bool {
    guard node.inputs.count > 1 else { return false }
    guard case .parameter = graph[node.inputs[1]].op else { return true }
    return graph.stateUpdates.contains { $0.state == node.inputs[1] }
  }

  static func emit(_ k: Kernel) throws {
    let ir = k.ir
    let x = k.inputs.first
    switch k.node.op {
    case .input, .parameter:
      return
    case .conv(let a):
      ConvolutionLowering.forward(k, a)
    case .pool(let a):
      PoolLowering(a, x: k.inputTypes[0].shape, y: k.type.shape).forward(k)
    case .globalPool(let a):
      let inner = k.inputTypes[0].shape[2...].reduce(1, *)
      ir.loop(k.count) { plane in
        let base = ir.mul(plane, ir.int(inner))
        let result = reduce(ir, count: inner, start: a.kind == .max ? ir.float(-.infinity) : ir.float(0)) { i, acc in
          let v = ir.load(x!, ir.add(base, i))
          return a.kind == .max ? ir.fmax(acc, v) : ir.fadd(acc, v)
        }
        ir.store(a.kind == .max ? result : ir.fdiv(result, ir.float(Double(inner))), k.output, plane)
      }
    case .dense:
      let w = k.inputTypes[1].shape
      let rows = k.count / w[0]
      ir.sgemm(pool: k.pool, transposeB: true, m: rows, n: w[0], k: w[1], a: x!, lda: w[1], b: k.inputs[1], ldb: w[1], c: k.output, ldc: w[0])
      finish(k, bias: k.inputs.count > 2 ? k.inputs[2] : nil, channels: w[0], inner: 1)
    case .matmul:
      emitMatmul(k)
    case .unary(let a):
      k.parallelElementwise { k, i in unary(k.ir, a.function, k.ir.load(k.inputs[0], i)) }
    case .binary(let a):
      let strides = [StridedWalk.contiguous(k.type.shape)] + k.inputTypes.map { StridedWalk.broadcast(source: $0.shape, target: k.type.shape) }
      StridedWalk(shape: k.type.shape, operandStrides: strides).forEach(k) { k, at in
        ir.store(k.activated(arithmetic(ir, a.op, ir.load(k.inputs[0], at[1]), ir.load(k.inputs[1], at[2]))), k.output, at[0])
      }
    case .fusedElementwise(let a):
      FusedElementwiseLowering.emit(k, a)
    case .maxout(let a):
      let inner = a.inner(k.inputTypes[0].shape)
      ir.loop(k.count / inner) { group in
        ir.loop(inner) { i in
          let first = ir.add(ir.mul(ir.mul(group, ir.int(a.pieces)), ir.int(inner)), i)
          let best = reduce(ir, count: a.pieces, start: ir.float(-.infinity)) { p, acc in
            ir.fmax(acc, ir.load(x!, ir.add(first, ir.mul(p, ir.int(inner)))))
          }
          ir.store(best, k.output, ir.add(ir.mul(group, ir.int(inner)), i))
        }
      }
    case .softmax(let a):
      emitSoftmax(k, a)
    case .reduce(let a):
      emitReduce(k, a)
    case .concat(let a):
      let outer = k.type.shape[..<a.axis].reduce(1, *)
      let inner = k.type.shape[(a.axis + 1)...].reduce(1, *)
      var offset = 0
      for (part, type) in zip(k.inputs, k.inputTypes) {
        let block = type.shape[a.axis] * inner
        let start = offset
        // Parts computed in place (`MemoryPlan.placements`) are where they belong already.
        ir.when(ir.icmp(LLVMIntNE, ir.pointerAddress(part), ir.pointerAddress(ir.element(k.output, ir.int(start))))) {
          ir.loop(outer) { o in
            ir.loop(block) { i in
              ir.store(ir.load(part, ir.add(ir.mul(o, ir.int(block)), i)), k.output, ir.add(ir.mul(o, ir.int(k.type.shape[a.axis] * inner)), ir.add(i, ir.int(start))))
            }
          }
        }
        offset += block
      }
    case .slice(let a):
      let own = StridedWalk.contiguous(k.inputTypes[0].shape)
      stridedCopy(k, start: a.start * own[a.axis], strides: own.indices.map { $0 == a.axis ? own[$0] * a.step : own[$0] })
    case .transpose(let a):
      let own = StridedWalk.contiguous(k.inputTypes[0].shape)
      stridedCopy(k, start: 0, strides: a.permutation.map { own[$0] })
    case .pad(let a):
      let table = k.gatherTable(IndexTables.pad(input: k.inputTypes[0].shape, output: k.type.shape, attrs: a))
      k.elementwise { i in k.gathered(x!, table, i) }
    case .resize(let a):
      ResizeLowering.emit(k, a, gradient: false)
    case .dropout(let a) where !MemoryPlan.isView(k.node.op):
      emitDropout(k, a)
    case .reshape, .dropout:
      // Views (see MemoryPlan.isView) have no kernel unless they are an output, which copies.
      k.elementwise { i in ir.load(x!, i) }
    case .batchNorm(let a):
      // A plane (sample, channel) at a time, with the kernel's activation.
      let channels = k.type.shape[1]
      let inner = k.type.shape[2...].reduce(1, *)
      k.parallelLoop(k.count / inner, work: inner) { k, _, plane in
        let ir = k.ir
        let c = ir.urem(plane, ir.int(channels))
        let inverse = ir.fdiv(ir.float(1), ir.intrinsic("llvm.sqrt.f32", [ir.fadd(ir.load(k.inputs[4], c), ir.float(a.epsilon))]))
        let scale = ir.fmul(ir.load(k.inputs[1], c), inverse)
        let shift = ir.fsub(ir.load(k.inputs[2], c), ir.fmul(ir.load(k.inputs[3], c), scale))
        let base = ir.mul(plane, ir.int(inner))
        ir.loop(inner) { i in
          let at = ir.add(base, i)
          ir.store(k.activated(ir.fma(ir.load(k.inputs[0], at), scale, shift)), k.output, at)
        }
      }
    case .embedding:
      let (vocabulary, dim) = (k.inputTypes[1].shape[0], k.inputTypes[1].shape[1])
      let indices = ir.asInts(x!)
      ir.loop(k.inputTypes[0].elementCount) { row in
        let index = k.checkedIndex(indices, row, count: vocabulary)
        ir.loop(dim) { d in
          ir.store(ir.load(k.inputs[1], ir.add(ir.mul(index, ir.int(dim)), d)), k.output, ir.add(ir.mul(row, ir.int(dim)), d))
        }
      }
    case .convTranspose(let a):
      ConvolutionLowering.transposed(k, a)
    case .loss(let a):
      emitLoss(k, a)
    case .lrn(let a):
      LRNLowering.forward(k, a)
    case .allReduce(let a):
      // In place on the output (where the input is computed, `MemoryPlan.placements`, or a copy);
      // a failed exchange (another process died) fails the step.
      ir.when(ir.icmp(LLVMIntNE, ir.pointerAddress(x!), ir.pointerAddress(k.output))) { ir.copy(k.count, from: x!, to: k.output) }
      let status = ir.allReduce(pool: k.pool, values: k.output, count: k.count, weight: a.weight)
      ir.when(ir.icmp(LLVMIntNE, status, ir.int32(0))) { k.fail(8) }
    case .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad,
      .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      try GradientLowering.emit(k)
    }
  }

  /// Folds `count` values into one: `combine(i, accumulator)` for i in 0..<count.
  static func reduce(_ ir: IRBuilder, count: Int, start: LLVMValueRef, _ combine: (LLVMValueRef, LLVMValueRef) -> LLVMValueRef) -> LLVMValueRef {
    let slot = ir.stackSlot()
    ir.store(start, to: slot)
    ir.loop(count) { i in ir.store(combine(i, ir.load(ir.f32, from: slot)), to: slot) }
    return ir.load(ir.f32, from: slot)
  }

  /// How a sum or a maximum (NaN-propagating) takes in one more value, on floats or vectors.
  static func accumulation(_ ir: IRBuilder, maximum: Bool) -> (LLVMValueRef, LLVMValueRef) -> LLVMValueRef {
    { total, value in maximum ? ir.fmax(total, value) : ir.fadd(total, value) }
  }

  /// The sum (or the maximum, NaN first) of `count` floats from `pointer[start]` on, in four
  /// vectors of `lanes` accumulators, then lane by lane, then the tail.
  static func rowTotal(_ ir: IRBuilder, _ pointer: LLVMValueRef, from start: LLVMValueRef, count: Int, lanes: Int, maximum: Bool) -> LLVMValueRef {
    rowTotal(ir, count: count, lanes: lanes, maximum: maximum) { i, width in
      let at = ir.add(start, i)
      return width == 1 ? ir.load(pointer, at) : ir.loadVector(pointer, at, lanes: width)
    }
  }

  /// The sum (or the maximum, NaN first) of `value(i, width)` over i in 0..<`count`, where
  /// `value` gives the float at i (width 1) or the vector of `width` floats from i on: four
  /// vectors of `lanes` accumulators, then lane by lane, then the tail.
  static func rowTotal(
    _ ir: IRBuilder, count: Int, lanes: Int, maximum: Bool, _ value: (_ i: LLVMValueRef, _ width: Int) -> LLVMValueRef
  ) -> LLVMValueRef {
    let combine = accumulation(ir, maximum: maximum)
    let (width, vector) = (4 * lanes, ir.vectorType(lanes))
    let accumulators = (0..<4).map { _ in ir.stackSlot(type: vector) }
    for slot in accumulators { ir.store(ir.constant(maximum ? -.infinity : 0, like: ir.zeroVector(lanes)), to: slot) }
    ir.loop(count / width) { chunk in
      let base = ir.mul(chunk, ir.int(width))
      for (index, slot) in accumulators.enumerated() {
        ir.store(combine(ir.load(vector, from: slot), value(ir.add(base, ir.int(index * lanes)), lanes)), to: slot)
      }
    }
    let values = accumulators.map { ir.load(vector, from: $0) }
    let joined = combine(combine(values[0], values[1]), combine(values[2], values[3]))
    let lanesTotal = (1..<lanes).reduce(ir.extract(joined, lane: 0)) { combine($0, ir.extract(joined, lane: $1)) }
    let tail = count / width * width
    return reduce(ir, count: count % width, start: lanesTotal) { i, total in combine(total, value(ir.add(ir.int(tail), i), 1)) }
  }

  /// `function` of `v`, a float or a vector of floats (lane by lane).
  /// `l op r`, on floats or vectors.
  static func arithmetic(_ ir: IRBuilder, _ op: BinaryOperator, _ l: LLVMValueRef, _ r: LLVMValueRef) -> LLVMValueRef {
    switch op {
    case .add: return ir.fadd(l, r)
    case .sub: return ir.fsub(l, r)
    case .mul: return ir.fmul(l, r)
    case .div: return ir.fdiv(l, r)
    }
  }

  static func unary(_ ir: IRBuilder, _ function: UnaryFunction, _ v: LLVMValueRef) -> LLVMValueRef {
    let type = ir.typeOf(v)
    func c(_ value: Double) -> LLVMValueRef { ir.constant(value, like: v) }
    switch function {
    case .relu: return ir.fmax(v, c(0))
    case .relu6: return ir.fmin(ir.fmax(v, c(0)), c(6))
    case .leakyReLU(let slope): return ir.select(ir.fcmp(LLVMRealOGT, v, c(0)), v, ir.fmul(v, c(slope)))
    case .elu(let alpha):
      let negative = ir.fmul(c(alpha), ir.fsub(ir.exp(v), c(1)))
      return ir.select(ir.fcmp(LLVMRealOGT, v, c(0)), v, negative)
    case .sigmoid:
      return ir.fdiv(c(1), ir.fadd(c(1), ir.exp(ir.fsub(c(0), v))))
    case .tanh:
      // 1 − 2/(e^{2x} + 1): exact to float rounding, and ±1 where e^{2x} overflows or vanishes.
      let e = ir.exp(ir.fmul(v, c(2)))
      return ir.fsub(c(1), ir.fdiv(c(2), ir.fadd(e, c(1))))
    case .affine(let scale, let shift): return ir.intrinsic("llvm.fmuladd", [v, c(scale), c(shift)], type: type)
    case .sqrt: return ir.intrinsic("llvm.sqrt", [v], type: type)
    case .clamp(let low, let high): return ir.fmin(ir.fmax(v, c(low)), c(high))
    case .hardSigmoid(let alpha, let beta):
      return ir.fmin(ir.fmax(ir.intrinsic("llvm.fmuladd", [v, c(alpha), c(beta)], type: type), c(0)), c(1))
    case .hardSwish: return ir.fdiv(ir.fmul(v, ir.fmin(ir.fmax(ir.fadd(v, c(3)), c(0)), c(6))), c(6))
    case .silu: return ir.fdiv(v, ir.fadd(c(1), ir.exp(ir.fsub(c(0), v))))
    case .erf: return erf(ir, v)
    case .gelu: return ir.fmul(ir.fmul(v, c(0.5)), ir.fadd(c(1), erf(ir, ir.fmul(v, c(1 / 2.0.squareRoot())))))
    }
  }

  /// erf(v), lane by lane, by Abramowitz and Stegun's 7.1.26 (absolute error below 1.5e-7):
  /// 1 − t·P(t)·e^(−x²) with t = 1/(1 + p·|x|), the sign of v restored; NaN stays NaN.
  static func erf(_ ir: IRBuilder, _ v: LLVMValueRef) -> LLVMValueRef {
    let type = ir.typeOf(v)
    func c(_ value: Double) -> LLVMValueRef { ir.constant(value, like: v) }
    let magnitude = ir.intrinsic("llvm.fabs", [v], type: type)
    let t = ir.fdiv(c(1), ir.intrinsic("llvm.fmuladd", [magnitude, c(0.3275911), c(1)], type: type))
    var polynomial = c(1.061405429)
    for coefficient in [-1.453152027, 1.421413741, -0.284496736, 0.254829592] {
      polynomial = ir.intrinsic("llvm.fmuladd", [polynomial, t, c(coefficient)], type: type)
    }
    let gaussian = ir.exp(ir.fmul(ir.fsub(c(0), magnitude), magnitude))
    let positive = ir.fsub(c(1), ir.fmul(ir.fmul(polynomial, t), gaussian))
    return ir.intrinsic("llvm.copysign", [positive, v], type: type)
  }

  /// out = the input's elements from offset `start`, at `strides` (one per output axis), walked in
  /// output order: slices and transposes as strided loops over merged axes, split across the
  /// pool, rather than through a table of one offset per element (ShuffleNet's channel shuffles
  /// ran serially, reading 91,000-entry tables).
  static func stridedCopy(_ k: Kernel, start: Int, strides: [Int]) {
    StridedWalk(shape: k.type.shape, operandStrides: [StridedWalk.contiguous(k.type.shape), strides]).forEach(k) { k, at in
      k.ir.store(k.ir.load(k.inputs[0], k.ir.add(at[1], k.ir.int(start))), k.output, at[0])
    }
  }

  /// `out[c·inner + i] = f(out[c·inner + i] + bias[c])` for every sample, with f the kernel's
  /// fused activation (if any); without a bias, only f.
  static func finish(_ k: Kernel, bias: LLVMValueRef?, channels: Int, inner: Int) {
    guard bias != nil || k.epilogue != nil else { return }
    let biasIndex = bias.flatMap { b in k.inputs.firstIndex { $0 == b } }
    k.parallelLoop(k.count / inner, work: inner) { k, _, plane in
      let ir = k.ir
      let b = biasIndex.map { ir.load(k.inputs[$0], ir.urem(plane, ir.int(channels))) }
      let base = ir.mul(plane, ir.int(inner))
      ir.loop(inner) { i in
        let at = ir.add(base, i)
        let value = ir.load(k.output, at)
        ir.store(k.activated(b.map { ir.fadd(value, $0) } ?? value), k.output, at)
      }
    }
  }

  /// Training-mode dropout with the interpreter's mask: element i survives when
  /// mix(seed ^ mix(step + mix(i))) / 2⁶⁴ ≥ rate (SplitMix64's mix), scaled by 1/(1 − rate).
  static func emitDropout(_ k: Kernel, _ a: DropoutAttrs) {
    let ir = k.ir
    func mix(_ value: LLVMValueRef) -> LLVMValueRef {
      var z = value
      z = ir.mul(ir.xor(z, ir.shiftRight(z, 30)), ir.int(bits: 0xBF58_476D_1CE4_E5B9))
      z = ir.mul(ir.xor(z, ir.shiftRight(z, 27)), ir.int(bits: 0x94D0_49BB_1331_11EB))
      return ir.xor(z, ir.shiftRight(z, 31))
    }
    let scale = ir.float(1 / (1 - a.rate))
    k.elementwise { i in
      let bits = mix(ir.xor(ir.int(bits: a.seed), mix(ir.add(k.step, mix(i)))))
      let unit = ir.fmul(ir.unsignedToDouble(ir.shiftRight(bits, 11)), ir.double(0x1p-53))
      let keep = ir.fcmp(LLVMRealOGE, unit, ir.double(a.rate))
      return ir.select(keep, ir.fmul(ir.load(k.inputs[0], i), scale), ir.float(0))
    }
  }

  /// The three losses, reduced to one number; a label outside the classes returns status 6.
  static func emitLoss(_ k: Kernel, _ a: LossAttrs) {
    let ir = k.ir
    let (prediction, target) = (k.inputs[0], k.inputs[1])
    let shape = k.inputTypes[0].shape
    let total: LLVMValueRef
    let count: Int
    switch a.kind {
    case .softmaxCrossEntropy:
      let classes = shape[1]
      count = shape[0]
      let labels = ir.asInts(target)
      total = reduce(ir, count: shape[0], start: ir.float(0)) { row, acc in
        let label = k.checkedIndex(labels, row, count: classes)
        let base = ir.mul(row, ir.int(classes))
        let top = reduce(ir, count: classes, start: ir.float(-.infinity)) { j, m in ir.fmax(m, ir.load(prediction, ir.add(base, j))) }
        let sum = reduce(ir, count: classes, start: ir.float(0)) { j, s in
          ir.fadd(s, ir.intrinsic("llvm.exp.f32", [ir.fsub(ir.load(prediction, ir.add(base, j)), top)]))
        }
        // −log softmax[label] = log Σ e^(z − max) − (z_label − max)
        let term = ir.fsub(ir.intrinsic("llvm.log.f32", [sum]), ir.fsub(ir.load(prediction, ir.add(base, label)), top))
        return ir.fadd(acc, term)
      }
    case .binaryCrossEntropy:
      count = k.inputTypes[0].elementCount
      total = reduce(ir, count: count, start: ir.float(0)) { i, acc in
        let (z, t) = (ir.load(prediction, i), ir.load(target, i))
        let magnitude = ir.select(ir.fcmp(LLVMRealOLT, z, ir.float(0)), ir.fsub(ir.float(0), z), z)
        let softplus = ir.intrinsic("llvm.log.f32", [ir.fadd(ir.float(1), ir.intrinsic("llvm.exp.f32", [ir.fsub(ir.float(0), magnitude)]))])
        return ir.fadd(acc, ir.fadd(ir.fsub(ir.fmax(z, ir.float(0)), ir.fmul(z, t)), softplus))
      }
    case .meanSquaredError:
      count = k.inputTypes[0].elementCount
      total = reduce(ir, count: count, start: ir.float(0)) { i, acc in
        let d = ir.fsub(ir.load(prediction, i), ir.load(target, i))
        return ir.fma(d, d, acc)
      }
    case .smoothL1:
      count = k.inputTypes[0].elementCount
      total = reduce(ir, count: count, start: ir.float(0)) { i, acc in
        let d = ir.fsub(ir.load(prediction, i), ir.load(target, i))
        let magnitude = ir.fmax(d, ir.fsub(ir.float(0), d))
        let quadratic = ir.fmul(ir.float(0.5), ir.fmul(d, d))
        return ir.fadd(acc, ir.select(ir.fcmp(LLVMRealOLT, magnitude, ir.float(1)), quadratic, ir.fsub(magnitude, ir.float(0.5))))
      }
    }
    ir.store(a.reduction == .mean ? ir.fdiv(total, ir.float(Double(count))) : total, k.output, ir.int(0))
  }

  /// Sum, mean, maximum or biased variance of `k`'s input over `a.axes`; the variance as the
  /// mean of squared deviations from the mean, which a first pass leaves in scratch.
  static func emitReduce(_ k: Kernel, _ a: ReduceAttrs) {
    let ir = k.ir
    switch a.kind {
    case .sum, .max:
      let maximum = a.kind == .max
      k.elementwise { _ in maximum ? ir.float(-.infinity) : ir.float(0) }
      accumulateReduction(k, axes: a.axes, into: k.output, maximum: maximum)
    case .mean:
      reductionMeans(k, axes: a.axes, into: k.output)
    case .variance:
      guard let mean = k.scratch else { return }
      reductionMeans(k, axes: a.axes, into: mean)
      k.elementwise { _ in ir.float(0) }
      accumulateReduction(k, axes: a.axes, into: k.output, maximum: false, deviationsFrom: mean)
      let scale = Double(k.count) / Double(k.inputTypes[0].elementCount)
      k.elementwise { i in ir.fmul(ir.load(k.output, i), ir.float(scale)) }
    }
  }

  /// `target` (reduction-shaped) ← the means of `k.inputs[0]` over `axes`.
  static func reductionMeans(_ k: Kernel, axes: [Int], into target: LLVMValueRef) {
    let ir = k.ir
    let count = k.inputTypes[0].shape.indices.filter { !axes.contains($0) }.map { k.inputTypes[0].shape[$0] }.reduce(1, *)
    ir.loop(count) { i in ir.store(ir.float(0), target, i) }
    accumulateReduction(k, axes: axes, into: target, maximum: false)
    let scale = Double(count) / Double(k.inputTypes[0].elementCount)
    ir.loop(count) { i in ir.store(ir.fmul(ir.load(target, i), ir.float(scale)), target, i) }
  }

  /// Adds every element of `k.inputs[0]` (or its squared deviation from `mean` of its slot) into
  /// the slot of `target` it reduces to over `axes` — or keeps the largest, with `maximum` — a row
  /// of the input at a time, in vectors where a row reduces to one slot.
  static func accumulateReduction(_ k: Kernel, axes: [Int], into target: LLVMValueRef, maximum: Bool, deviationsFrom mean: LLVMValueRef? = nil) {
    let ir = k.ir
    let (x, input) = (k.inputs[0], k.inputTypes[0].shape)
    let walk = StridedWalk(shape: input, operandStrides: [StridedWalk.reduction(input: input, axes: axes), StridedWalk.contiguous(input)])
    let combine = accumulation(ir, maximum: maximum)
    let squaredDeviation = { (value: LLVMValueRef, centre: LLVMValueRef) -> LLVMValueRef in
      let deviation = ir.fsub(value, centre)
      return ir.fmul(deviation, deviation)
    }
    ir.loop(walk.rows) { row in
      let at = walk.rowOffsets(ir, row: row)
      if walk.innerStrides[0] == 0 {
        let centre = mean.map { ir.load($0, at[0]) }
        let total = rowTotal(ir, count: walk.inner, lanes: k.lanes, maximum: maximum) { i, width in
          let position = ir.add(at[1], i)
          let value = width == 1 ? ir.load(x, position) : ir.loadVector(x, position, lanes: width)
          guard let centre else { return value }
          return squaredDeviation(value, width == 1 ? centre : ir.splat(centre, lanes: width))
        }
        ir.store(combine(ir.load(target, at[0]), total), target, at[0])
      } else {
        ir.loop(walk.inner) { j in
          let slot = ir.add(at[0], ir.scaled(j, walk.innerStrides[0]))
          let value = ir.load(x, ir.add(at[1], j))
          ir.store(combine(ir.load(target, slot), mean.map { squaredDeviation(value, ir.load($0, slot)) } ?? value), target, slot)
        }
      }
    }
  }

  static func emitMatmul(_ k: Kernel) {
    let ir = k.ir
    let (a, b) = (k.inputTypes[0].shape, k.inputTypes[1].shape)
    let (m, inner, n) = (a[a.count - 2], a[a.count - 1], b[b.count - 1])
    let batch = Array(k.type.shape.dropLast(2))
    let aOffsets = IndexTables.broadcast(source: Array(a.dropLast(2)), target: batch)
    let bOffsets = IndexTables.broadcast(source: Array(b.dropLast(2)), target: batch)
    for (index, (aOffset, bOffset)) in zip(aOffsets, bOffsets).enumerated() {
      ir.sgemm(
        pool: k.pool, m: m, n: n, k: inner, a: ir.element(k.inputs[0], ir.int(aOffset * m * inner)), lda: inner,
        b: ir.element(k.inputs[1], ir.int(bOffset * inner * n)), ldb: n, c: ir.element(k.output, ir.int(index * m * n)), ldc: n)
    }
  }

  static func emitSoftmax(_ k: Kernel, _ a: SoftmaxAttrs) {
    let ir = k.ir
    let shape = k.type.shape
    let (outer, size, inner) = (shape[..<a.axis].reduce(1, *), shape[a.axis], shape[(a.axis + 1)...].reduce(1, *))
    ir.loop(outer) { o in
      ir.loop(inner) { i in
        let base = ir.add(ir.mul(o, ir.int(size * inner)), i)
        let at = { (j: LLVMValueRef) in ir.add(base, ir.mul(j, ir.int(inner))) }
        let top = reduce(ir, count: size, start: ir.float(-.infinity)) { j, acc in ir.fmax(acc, ir.load(k.inputs[0], at(j))) }
        let total = reduce(ir, count: size, start: ir.float(0)) { j, acc in
          ir.fadd(acc, ir.intrinsic("llvm.exp.f32", [ir.fsub(ir.load(k.inputs[0], at(j)), top)]))
        }
        let logTotal = ir.intrinsic("llvm.log.f32", [total])
        ir.loop(size) { j in
          let shifted = ir.fsub(ir.fsub(ir.load(k.inputs[0], at(j)), top), logTotal)
          ir.store(a.log ? shifted : ir.intrinsic("llvm.exp.f32", [shifted]), k.output, at(j))
        }
      }
    }
  }
}
