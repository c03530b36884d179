/// Every operation a Kiln graph can hold. Each case carries its attribute struct, which owns the
/// op's shape rule and cost; switches over `Op` have no `default:`, so a new op is a compile error
/// everywhere it must be handled.
public enum Op: Codable, Hashable, Sendable {
  // Sources
  /// A data input fed at each run.
  case input(InputAttrs)
  /// A tensor that lives with the model: a weight, a running statistic, optimizer state.
  case parameter(ParameterAttrs)
  // Windows
  /// Convolution, with optional bias.
  case conv(ConvAttrs)
  /// Transposed convolution, with optional bias.
  case convTranspose(ConvTransposeAttrs)
  /// Max or average pooling over windows.
  case pool(PoolAttrs)
  /// Max or average over all spatial positions.
  case globalPool(GlobalPoolAttrs)
  // Linear algebra
  /// `x·Wᵀ + b`: a fully connected layer.
  case dense(DenseAttrs)
  /// Batched matrix product.
  case matmul(MatMulAttrs)
  /// Rows of a table looked up by integer ids.
  case embedding(EmbeddingAttrs)
  // Elementwise and activations
  /// Elementwise arithmetic with broadcasting.
  case binary(BinaryAttrs)
  /// A function applied to every element.
  case unary(UnaryAttrs)
  /// A chain of elementwise ops computed in one pass (`Graph.fusingElementwise`).
  case fusedElementwise(FusedElementwiseAttrs)
  /// The maximum over runs of elements along one axis.
  case maxout(MaxoutAttrs)
  /// Softmax or log-softmax along one axis.
  case softmax(SoftmaxAttrs)
  // Reductions, layout
  /// Sum, mean or maximum over axes.
  case reduce(ReduceAttrs)
  /// Inputs joined along one axis.
  case concat(ConcatAttrs)
  /// A strided range of one axis.
  case slice(SliceAttrs)
  /// The same elements in another shape.
  case reshape(ReshapeAttrs)
  /// Axes permuted.
  case transpose(TransposeAttrs)
  /// Padding of every axis (zero, replicate, reflect, circular).
  case pad(PadAttrs)
  /// Nearest or linear resampling of the spatial axes.
  case resize(ResizeAttrs)
  // Normalisation, regularisation, losses
  /// Batch normalisation with given statistics.
  case batchNorm(BatchNormAttrs)
  /// Local response normalisation across channels.
  case lrn(LRNAttrs)
  /// Dropout: the identity at inference, a seeded mask in training.
  case dropout(DropoutAttrs)
  /// A loss between a prediction and its labels or targets.
  case loss(LossAttrs)
  // Data parallelism
  /// The sum over the processes of a data-parallel job (the gradient exchange).
  case allReduce(AllReduceAttrs)
  // Backward (the adjoints autodiff emits)
  /// The gradient of a convolution with respect to its input.
  case convInputGrad(ConvInputGradAttrs)
  /// The gradient of a convolution with respect to its weight.
  case convWeightGrad(ConvWeightGradAttrs)
  /// The gradient of a pooling with respect to its input.
  case poolGrad(PoolGradAttrs)
  /// The gradient of a reduction with respect to its input.
  case reduceGrad(ReduceGradAttrs)
  /// The gradient of an elementwise function.
  case unaryGrad(UnaryGradAttrs)
  /// The gradient of a maxout with respect to its input.
  case maxoutGrad(MaxoutGradAttrs)
  /// The gradient of an embedding with respect to its table.
  case embeddingGrad(EmbeddingGradAttrs)
  /// The gradient of a slice: its input scattered into zeros.
  case sliceGrad(SliceGradAttrs)
  /// The gradient of a padding with respect to its input.
  case padGrad(PadGradAttrs)
  /// The gradient of a resize with respect to its input.
  case resizeGrad(ResizeGradAttrs)
  /// One gradient of a batch normalisation.
  case batchNormGrad(BatchNormGradAttrs)
  /// The gradient of a local response normalisation with respect to its input.
  case lrnGrad(LRNGradAttrs)
  /// The gradient of a loss with respect to its prediction or target.
  case lossGrad(LossGradAttrs)

  /// The attribute struct of this op.
  public var attributes: any OpAttributes {
    switch self {
    case .input(let a): return a
    case .parameter(let a): return a
    case .conv(let a): return a
    case .convTranspose(let a): return a
    case .pool(let a): return a
    case .globalPool(let a): return a
    case .dense(let a): return a
    case .matmul(let a): return a
    case .embedding(let a): return a
    case .binary(let a): return a
    case .unary(let a): return a
    case .fusedElementwise(let a): return a
    case .maxout(let a): return a
    case .softmax(let a): return a
    case .reduce(let a): return a
    case .concat(let a): return a
    case .slice(let a): return a
    case .reshape(let a): return a
    case .transpose(let a): return a
    case .pad(let a): return a
    case .resize(let a): return a
    case .batchNorm(let a): return a
    case .lrn(let a): return a
    case .dropout(let a): return a
    case .loss(let a): return a
    case .allReduce(let a): return a
    case .convInputGrad(let a): return a
    case .convWeightGrad(let a): return a
    case .poolGrad(let a): return a
    case .reduceGrad(let a): return a
    case .unaryGrad(let a): return a
    case .maxoutGrad(let a): return a
    case .embeddingGrad(let a): return a
    case .sliceGrad(let a): return a
    case .padGrad(let a): return a
    case .resizeGrad(let a): return a
    case .batchNormGrad(let a): return a
    case .lrnGrad(let a): return a
    case .lossGrad(let a): return a
    }
  }

  /// The lower-case name used in the text dump (`conv`, `max_pool`, …).
  public var mnemonic: String {
    switch self {
    case .input: return "input"
    case .parameter: return "parameter"
    case .conv: return "conv"
    case .convTranspose: return "conv_transpose"
    case .pool(let a): return a.kind == .max ? "max_pool" : "avg_pool"
    case .globalPool(let a): return a.kind == .max ? "global_max_pool" : "global_avg_pool"
    case .dense: return "dense"
    case .matmul: return "matmul"
    case .embedding: return "embedding"
    case .binary: return "binary"
    case .unary: return "unary"
    case .fusedElementwise: return "fused_elementwise"
    case .maxout: return "maxout"
    case .softmax(let a): return a.log ? "log_softmax" : "softmax"
    case .reduce: return "reduce"
    case .concat: return "concat"
    case .slice: return "slice"
    case .reshape: return "reshape"
    case .transpose: return "transpose"
    case .pad: return "pad"
    case .resize: return "resize"
    case .batchNorm: return "batch_norm"
    case .lrn: return "lrn"
    case .dropout: return "dropout"
    case .loss: return "loss"
    case .allReduce: return "all_reduce"
    case .convInputGrad: return "conv_input_grad"
    case .convWeightGrad: return "conv_weight_grad"
    case .poolGrad: return "pool_grad"
    case .reduceGrad: return "reduce_grad"
    case .unaryGrad: return "unary_grad"
    case .maxoutGrad: return "maxout_grad"
    case .embeddingGrad: return "embedding_grad"
    case .sliceGrad: return "slice_grad"
    case .padGrad: return "pad_grad"
    case .resizeGrad: return "resize_grad"
    case .batchNormGrad: return "batch_norm_grad"
    case .lrnGrad: return "lrn_grad"
    case .lossGrad: return "loss_grad"
    }
  }

  /// The layer-style name used in error messages (`Conv2D`, `MaxPool1D`, `Dense`), given the
  /// rank of the op's first input.
  public func displayName(inputRank: Int) -> String {
    let dims = "\(max(inputRank - 2, 1))D"
    switch self {
    case .input: return "Input"
    case .parameter: return "Parameter"
    case .conv: return "Conv" + dims
    case .convTranspose: return "ConvTranspose" + dims
    case .pool(let a): return (a.kind == .max ? "MaxPool" : "AvgPool") + dims
    case .globalPool(let a): return a.kind == .max ? "GlobalMaxPool" : "GlobalAvgPool"
    case .dense: return "Dense"
    case .matmul: return "MatMul"
    case .embedding: return "Embedding"
    case .binary(let a): return a.op.rawValue.prefix(1).uppercased() + a.op.rawValue.dropFirst()
    case .unary(let a): return "Activation(\(a.function.text))"
    case .fusedElementwise(let a): return "FusedElementwise(\(a.steps.count) steps)"
    case .maxout: return "Maxout"
    case .softmax(let a): return a.log ? "LogSoftmax" : "Softmax"
    case .reduce(let a): return "Reduce(\(a.kind.rawValue))"
    case .concat: return "Concat"
    case .slice: return "Slice"
    case .reshape: return "Reshape"
    case .transpose: return "Transpose"
    case .pad: return "Pad"
    case .resize(let a): return a.mode == .nearest ? "Upsample(nearest)" : "Upsample(linear)"
    case .batchNorm: return "BatchNorm"
    case .lrn: return "LRN"
    case .dropout: return "Dropout"
    case .loss(let a): return a.kind.rawValue.prefix(1).uppercased() + a.kind.rawValue.dropFirst()
    case .allReduce: return "AllReduce"
    case .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad,
      .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      return "Gradient(\(mnemonic))"
    }
  }

  /// Whether the op is a source: an input or a parameter, whose values come from outside the graph.
  public var isSource: Bool {
    switch self {
    case .input, .parameter: return true
    case .conv, .convTranspose, .pool, .globalPool, .dense, .matmul, .embedding, .binary, .unary, .fusedElementwise, .maxout,
      .softmax, .reduce, .concat, .slice, .reshape, .transpose, .pad, .resize, .batchNorm, .lrn, .dropout, .loss, .allReduce,
      .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad, .sliceGrad, .padGrad,
      .resizeGrad, .batchNormGrad, .lrnGrad, .lossGrad:
      return false
    }
  }
}
