import CLLVM
import Kiln

/// The backward ops: the same semantics as the interpreter's gradient kernels, as loops.
enum GradientLowering {
  static func emit(_ k: Kernel) throws {
    let ir = k.ir
    switch k.node.op {
    case .convInputGrad(let a):
      if let convolution = InputGradientConvolution(a, dy: k.inputTypes[0].shape, weight: k.inputTypes[1].shape, vectors: k.vectors) {
        convolution.emit(k)
      } else {
        ConvolutionLowering.inputGradient(k, a)
      }
    case .convWeightGrad(let a):
      switch WeightGradient(a, x: k.inputTypes[0].shape, dy: k.inputTypes[1].shape, weight: k.type.shape, lanes: k.lanes) {
      case .winograd(let winograd): winograd.emit(k)
      case .registers(let convolution): convolution.emit(k)
      case .alongColumns(let convolution): convolution.emit(k)
      case .columns: ConvolutionLowering.weightGradient(k, a)
      }
    case .poolGrad(let a):
      PoolLowering(a.pool, x: k.inputTypes[0].shape, y: k.inputTypes[1].shape).gradient(k)
    case .reduceGrad(let a):
      reduceGradient(k, a.reduce)
    case .unaryGrad(let a):
      k.parallelElementwise { k, i in
        k.ir.fmul(derivative(k.ir, a.function, x: k.ir.load(k.inputs[0], i), y: k.ir.load(k.inputs[1], i)), k.ir.load(k.inputs[2], i))
      }
    case .maxoutGrad(let grad):
      let a = grad.maxout
      let inner = a.inner(k.type.shape)
      k.elementwise { _ in ir.float(0) }
      ir.loop(k.inputTypes[1].elementCount / inner) { group in
        ir.loop(inner) { i in
          let first = ir.add(ir.mul(ir.mul(group, ir.int(a.pieces)), ir.int(inner)), i)
          let best = firstMaximum(ir, count: a.pieces) { p in
            let at = ir.add(first, ir.mul(p, ir.int(inner)))
            return (ir.load(k.inputs[0], at), at, nil)
          }
          ir.store(ir.load(k.inputs[1], ir.add(ir.mul(group, ir.int(inner)), i)), k.output, best)
        }
      }
    case .embeddingGrad:
      let dim = k.type.shape[1]
      let vocabulary = k.type.shape[0]
      let indices = ir.asInts(k.inputs[0])
      k.elementwise { _ in ir.float(0) }
      ir.loop(k.inputTypes[0].elementCount) { row in
        let index = k.checkedIndex(indices, row, count: vocabulary)
        ir.loop(dim) { d in
          let at = ir.add(ir.mul(index, ir.int(dim)), d)
          ir.store(ir.fadd(ir.load(k.output, at), ir.load(k.inputs[1], ir.add(ir.mul(row, ir.int(dim)), d))), k.output, at)
        }
      }
    case .sliceGrad(let a):
      scatterAdd(k, IndexTables.slice(input: k.type.shape, output: k.inputTypes[0].shape, attrs: a.slice))
    case .padGrad(let a):
      scatterAdd(k, IndexTables.pad(input: k.type.shape, output: k.inputTypes[0].shape, attrs: a.pad))
    case .resizeGrad(let a):
      ResizeLowering.emit(k, a.resize, gradient: true)
    case .batchNormGrad(let a):
      batchNormGradient(k, a)
    case .lrnGrad(let a):
      LRNLowering.inputGradient(k, a.lrn)
    case .lossGrad(let a):
      lossGradient(k, a)
    default:
      throw KilnError.invalidArgument("\(k.node.name): \(k.node.op.mnemonic) is not a gradient op")
    }
  }

  /// f′ at x (or from the output y), as in the interpreter.
  /// How a convolution's weight gradient runs, decided in one place for its scratch and its code.
  enum WeightGradient {
    case winograd(WinogradWeightGradient)
    case registers(WeightGradientConvolution)
    case alongColumns(ColumnWeightGradient)
    /// dy·im2col(x)ᵀ through SGEMM.
    case columns

    init(_ a: ConvWeightGradAttrs, x: [Int], dy: [Int], weight: [Int], lanes: Int) {
      if let winograd = WinogradWeightGradient(a, x: x, dy: dy, weight: weight, lanes: lanes) {
        self = .winograd(winograd)
      } else if let convolution = WeightGradientConvolution(a, x: x, dy: dy, weight: weight, lanes: lanes) {
        self = .registers(convolution)
      } else if let convolution = ColumnWeightGradient(a, x: x, dy: dy, weight: weight, lanes: lanes) {
        self = .alongColumns(convolution)
      } else {
        self = .columns
      }
    }

    func scratchSize(_ a: ConvWeightGradAttrs, x: [Int], dy: [Int], weight: [Int]) -> Int {
      switch self {
      case .winograd(let winograd): return winograd.scratchSize
      case .registers(let convolution): return convolution.scratchSize
      case .alongColumns(let convolution): return convolution.scratchSize
      case .columns: return ConvolutionShape(x: x, weight: weight, output: dy, groups: a.conv.groups).weightGradientScratchSize(a.conv, x: x)
      }
    }
  }

  static func derivative(_ ir: IRBuilder, _ function: UnaryFunction, x: LLVMValueRef, y: LLVMValueRef) -> LLVMValueRef {
    let positive = ir.fcmp(LLVMRealOGT, x, ir.float(0))
    switch function {
    case .relu: return ir.select(positive, ir.float(1), ir.float(0))
    case .relu6: return ir.select(ir.and(positive, ir.fcmp(LLVMRealOLT, x, ir.float(6))), ir.float(1), ir.float(0))
    case .leakyReLU(let slope): return ir.select(positive, ir.float(1), ir.float(slope))
    case .elu(let alpha): return ir.select(positive, ir.float(1), ir.fadd(y, ir.float(alpha)))
    case .sigmoid: return ir.fmul(y, ir.fsub(ir.float(1), y))
    case .tanh: return ir.fsub(ir.float(1), ir.fmul(y, y))
    case .affine(let scale, _): return ir.float(scale)
    case .sqrt: return ir.fdiv(ir.float(1), ir.fmul(ir.float(2), y))
    case .clamp(let low, let high):
      return ir.select(ir.and(ir.fcmp(LLVMRealOGT, x, ir.float(low)), ir.fcmp(LLVMRealOLT, x, ir.float(high))), ir.float(1), ir.float(0))
    case .hardSigmoid(let alpha, let beta):
      let z = ir.fma(x, ir.float(alpha), ir.float(beta))
      return ir.select(ir.and(ir.fcmp(LLVMRealOGT, z, ir.float(0)), ir.fcmp(LLVMRealOLT, z, ir.float(1))), ir.float(alpha), ir.float(0))
    case .hardSwish:
      let middle = ir.fdiv(ir.fma(x, ir.float(2), ir.float(3)), ir.float(6))
      return ir.select(ir.fcmp(LLVMRealOLT, x, ir.float(-3)), ir.float(0), ir.select(ir.fcmp(LLVMRealOGT, x, ir.float(3)), ir.float(1), middle))
    case .silu:
      let s = Lowering.unary(ir, .sigmoid, x)
      return ir.fmul(s, ir.fadd(ir.float(1), ir.fmul(x, ir.fsub(ir.float(1), s))))
    case .erf:
      return ir.fmul(ir.float(2 / Double.pi.squareRoot()), ir.exp(ir.fmul(ir.fsub(ir.float(0), x), x)))
    case .gelu:
      let cumulative = ir.fmul(ir.float(0.5), ir.fadd(ir.float(1), Lowering.erf(ir, ir.fmul(x, ir.float(1 / 2.0.squareRoot())))))
      let density = ir.fmul(ir.float(1 / (2 * Double.pi).squareRoot()), ir.exp(ir.fmul(ir.fmul(x, x), ir.float(-0.5))))
      return ir.fma(x, density, cumulative)
    }
  }

  /// The position of the first maximum among `count` candidates; `candidate(i)` gives a value,
  /// its position and whether it counts (nil: always).
  static func firstMaximum(_ ir: IRBuilder, count: Int, _ candidate: (LLVMValueRef) -> (LLVMValueRef, LLVMValueRef, LLVMValueRef?)) -> LLVMValueRef {
    let bestValue = ir.stackSlot()
    let bestIndex = ir.stackSlot(type: ir.i64)
    ir.store(ir.float(-.infinity), to: bestValue)
    ir.store(ir.int(-1), to: bestIndex)
    ir.loop(count) { i in
      let (value, position, valid) = candidate(i)
      let current = ir.load(ir.f32, from: bestValue)
      let index = ir.load(ir.i64, from: bestIndex)
      var better = ir.icmp(LLVMIntSLT, index, ir.int(0))
      better = ir.or(better, ir.isPreferredMaximum(value, over: current))
      if let valid { better = ir.and(better, valid) }
      ir.store(ir.select(better, value, current), to: bestValue)
      ir.store(ir.select(better, position, index), to: bestIndex)
    }
    return ir.load(ir.i64, from: bestIndex)
  }

  static func reduceGradient(_ k: Kernel, _ a: ReduceAttrs) {
    let ir = k.ir
    let (count, reduced) = (k.count, k.inputTypes[1].elementCount)
    switch a.kind {
    case .sum, .mean:
      let scale = a.kind == .mean ? Double(reduced) / Double(count) : 1
      let strides = [StridedWalk.contiguous(k.type.shape), StridedWalk.reduction(input: k.type.shape, axes: a.axes)]
      StridedWalk(shape: k.type.shape, operandStrides: strides).forEach(k) { k, at in
        ir.store(ir.fmul(ir.load(k.inputs[1], at[1]), ir.float(scale)), k.output, at[0])
      }
    case .variance:
      // dx = dy·2(x − μ)/n, μ the slot's mean (in scratch; reached through the kernel the walk
      // gives, which may run on another thread).
      guard let mean = k.scratch else { return }
      Lowering.reductionMeans(k, axes: a.axes, into: mean)
      let scale = 2 * Double(reduced) / Double(count)
      let strides = [StridedWalk.contiguous(k.type.shape), StridedWalk.reduction(input: k.type.shape, axes: a.axes)]
      StridedWalk(shape: k.type.shape, operandStrides: strides).forEach(k) { k, at in
        let deviation = ir.fsub(ir.load(k.inputs[0], at[0]), ir.load(k.scratch!, at[1]))
        ir.store(ir.fmul(ir.fmul(ir.load(k.inputs[1], at[1]), deviation), ir.float(scale)), k.output, at[0])
      }
    case .max:
      let slots = ir.table(IndexTables.reductionSlots(input: k.type.shape, axes: a.axes))
      // Pass 1: each group's maximum; pass 2: the first element equal to it takes the gradient.
      guard let scratch = k.scratch else { return }
      let taken = ir.element(scratch, ir.int(reduced))
      ir.loop(reduced) { j in
        ir.store(ir.float(-.infinity), scratch, j)
        ir.store(ir.float(0), taken, j)
      }
      ir.loop(count) { i in
        let slot = ir.loadInt(slots, i)
        ir.store(ir.fmax(ir.load(scratch, slot), ir.load(k.inputs[0], i)), scratch, slot)
      }
      k.elementwise { i in
        let slot = ir.loadInt(slots, i)
        // The first element equal to the maximum, or the first NaN when the maximum is NaN.
        let (value, maximum) = (ir.load(k.inputs[0], i), ir.load(scratch, slot))
        let isMaximum = ir.or(ir.fcmp(LLVMRealOEQ, value, maximum), ir.and(ir.isNaN(value), ir.isNaN(maximum)))
        let wins = ir.and(isMaximum, ir.fcmp(LLVMRealOEQ, ir.load(taken, slot), ir.float(0)))
        ir.store(ir.select(wins, ir.float(1), ir.load(taken, slot)), taken, slot)
        return ir.select(wins, ir.load(k.inputs[1], slot), ir.float(0))
      }
    }
  }

  /// out = 0, then out[offsets[i]] += dy[i] (skipping −1).
  static func scatterAdd(_ k: Kernel, _ offsets: [Int]) {
    let ir = k.ir
    let table = ir.table(offsets)
    k.elementwise { _ in ir.float(0) }
    ir.loop(offsets.count) { i in
      let target = ir.loadInt(table, i)
      ir.when(ir.icmp(LLVMIntSGE, target, ir.int(0))) {
        ir.store(ir.fadd(ir.load(k.output, target), ir.load(k.inputs[0], i)), k.output, target)
      }
    }
  }

  /// Inputs x, γ, μ, σ², dy (and the gradients of γ and β for `.inputWithStatistics`); a
  /// channel per iteration of a parallel loop.
  static func batchNormGradient(_ k: Kernel, _ a: BatchNormGradAttrs) {
    let shape = k.inputTypes[0].shape
    let (channels, inner) = (shape[1], shape[2...].reduce(1, *))
    let samples = k.inputTypes[0].elementCount / (channels * inner)
    k.parallelLoop(channels, work: samples * inner * 2) { k, _, c in
      let ir = k.ir
      let (x, gamma, mean, variance, dy) = (k.inputs[0], k.inputs[1], k.inputs[2], k.inputs[3], k.inputs[4])
      let inverse = ir.fdiv(ir.float(1), ir.intrinsic("llvm.sqrt.f32", [ir.fadd(ir.load(variance, c), ir.float(a.epsilon))]))
      let scale = ir.fmul(ir.load(gamma, c), inverse)
      /// `value(at)` into the output over the channel's values.
      func store(_ value: (_ at: LLVMValueRef) -> LLVMValueRef) {
        ir.loop(samples) { n in
          let base = ir.mul(ir.add(ir.mul(n, ir.int(channels)), c), ir.int(inner))
          ir.loop(inner) { i in
            let at = ir.add(base, i)
            ir.store(value(at), k.output, at)
          }
        }
      }
      switch a.operand {
      case .input:
        store { at in ir.fmul(ir.load(dy, at), scale) }
        return
      case .inputWithStatistics:
        // dx = γ/σ·(dy − Σdy/n − x̂·Σdy·x̂/n), x̂ = (x − μ)/σ: Σdy·x̂ is γ's gradient, Σdy β's.
        let count = ir.float(Double(samples * inner))
        let meanGradient = ir.fdiv(ir.load(k.inputs[6], c), count)
        let slope = ir.fdiv(ir.fmul(ir.load(k.inputs[5], c), inverse), count)
        let mu = ir.load(mean, c)
        store { at in ir.fmul(scale, ir.fsub(ir.fsub(ir.load(dy, at), meanGradient), ir.fmul(ir.fsub(ir.load(x, at), mu), slope))) }
        return
      case .gamma, .beta, .mean, .variance: break
      }
      // Σ dy or Σ dy·(x − μ) over the channel, a sample's row at a time.
      let centered = a.operand == .gamma || a.operand == .variance
      let total = Lowering.reduce(ir, count: samples, start: ir.float(0)) { n, sum in
        let base = ir.mul(ir.add(ir.mul(n, ir.int(channels)), c), ir.int(inner))
        let row = Lowering.rowTotal(ir, count: inner, lanes: k.lanes, maximum: false) { i, width in
          let at = ir.add(base, i)
          let g = width == 1 ? ir.load(dy, at) : ir.loadVector(dy, at, lanes: width)
          guard centered else { return g }
          let (value, mu) = width == 1 ? (ir.load(x, at), ir.load(mean, c)) : (ir.loadVector(x, at, lanes: width), ir.splat(ir.load(mean, c), lanes: width))
          return ir.fmul(g, ir.fsub(value, mu))
        }
        return ir.fadd(sum, row)
      }
      let factor: LLVMValueRef
      switch a.operand {
      case .input, .inputWithStatistics, .beta: factor = ir.float(1)
      case .gamma: factor = inverse
      case .mean: factor = ir.fsub(ir.float(0), scale)
      // ∂/∂σ² of γ(x − μ)(σ² + ε)^(−1/2) is −½·γ(x − μ)(σ² + ε)^(−3/2).
      case .variance: factor = ir.fmul(ir.load(gamma, c), ir.fmul(ir.fmul(inverse, ir.fmul(inverse, inverse)), ir.float(-0.5)))
      }
      ir.store(ir.fmul(total, factor), k.output, c)
    }
  }

  /// Inputs prediction, target, dy (a scalar).
  static func lossGradient(_ k: Kernel, _ a: LossGradAttrs) {
    let ir = k.ir
    let shape = k.inputTypes[0].shape
    let (prediction, target) = (k.inputs[0], k.inputs[1])
    let count = a.loss.kind == .softmaxCrossEntropy ? shape[0] : k.inputTypes[0].elementCount
    let scale = ir.fdiv(ir.load(k.inputs[2], ir.int(0)), ir.float(a.loss.reduction == .mean ? Double(count) : 1))
    switch a.loss.kind {
    case .softmaxCrossEntropy:
      let classes = shape[1]
      let labels = ir.asInts(target)
      ir.loop(shape[0]) { row in
        let base = ir.mul(row, ir.int(classes))
        let label = ir.loadInt(labels, row)
        let top = Lowering.reduce(ir, count: classes, start: ir.float(-.infinity)) { j, m in ir.fmax(m, ir.load(prediction, ir.add(base, j))) }
        let sum = Lowering.reduce(ir, count: classes, start: ir.float(0)) { j, s in
          ir.fadd(s, ir.intrinsic("llvm.exp.f32", [ir.fsub(ir.load(prediction, ir.add(base, j)), top)]))
        }
        ir.loop(classes) { j in
          let probability = ir.fdiv(ir.intrinsic("llvm.exp.f32", [ir.fsub(ir.load(prediction, ir.add(base, j)), top)]), sum)
          let hot = ir.select(ir.icmp(LLVMIntEQ, j, label), ir.float(1), ir.float(0))
          ir.store(ir.fmul(ir.fsub(probability, hot), scale), k.output, ir.add(base, j))
        }
      }
    case .binaryCrossEntropy:
      k.elementwise { i in
        let (z, t) = (ir.load(prediction, i), ir.load(target, i))
        let gradient = a.operand == .prediction ? ir.fsub(Lowering.unary(ir, .sigmoid, z), t) : ir.fsub(ir.float(0), z)
        return ir.fmul(gradient, scale)
      }
    case .meanSquaredError:
      k.elementwise { i in
        let difference = ir.fsub(ir.load(prediction, i), ir.load(target, i))
        return ir.fmul(ir.fmul(difference, ir.float(a.operand == .prediction ? 2 : -2)), scale)
      }
    case .smoothL1:
      k.elementwise { i in
        let slope = ir.fmin(ir.fmax(ir.fsub(ir.load(prediction, i), ir.load(target, i)), ir.float(-1)), ir.float(1))
        return ir.fmul(ir.fmul(slope, ir.float(a.operand == .prediction ? 1 : -1)), scale)
      }
    }
  }
}
