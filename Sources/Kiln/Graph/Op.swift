/// Every operation a Kiln graph can hold. Each case carries its attribute struct, which owns the
/// op's shape rule and cost; switches over `Op` have no `default:`, so a new op is a compile error
/// everywhere it must be handled.
public enum Op: Codable, Hashable, Sendable {
  // Sources
  case input(InputAttrs)
  case parameter(ParameterAttrs)
  // Windows
  case conv(ConvAttrs)
  case convTranspose(ConvTransposeAttrs)
  case pool(PoolAttrs)
  case globalPool(GlobalPoolAttrs)
  // Linear algebra
  case dense(DenseAttrs)
  case matmul(MatMulAttrs)
  case embedding(EmbeddingAttrs)
  // Elementwise and activations
  case binary(BinaryAttrs)
  case unary(UnaryAttrs)
  case maxout(MaxoutAttrs)
  case softmax(SoftmaxAttrs)
  // Reductions, layout
  case reduce(ReduceAttrs)
  case concat(ConcatAttrs)
  case slice(SliceAttrs)
  case reshape(ReshapeAttrs)
  case transpose(TransposeAttrs)
  case pad(PadAttrs)
  case resize(ResizeAttrs)
  // Normalisation, regularisation, losses
  case batchNorm(BatchNormAttrs)
  case dropout(DropoutAttrs)
  case loss(LossAttrs)
  // Backward (the adjoints autodiff emits)
  case convInputGrad(ConvInputGradAttrs)
  case convWeightGrad(ConvWeightGradAttrs)
  case poolGrad(PoolGradAttrs)
  case reduceGrad(ReduceGradAttrs)
  case unaryGrad(UnaryGradAttrs)
  case maxoutGrad(MaxoutGradAttrs)
  case embeddingGrad(EmbeddingGradAttrs)
  case sliceGrad(SliceGradAttrs)
  case padGrad(PadGradAttrs)
  case resizeGrad(ResizeGradAttrs)
  case batchNormGrad(BatchNormGradAttrs)
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
    case .dropout(let a): return a
    case .loss(let a): return a
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
    case .dropout: return "dropout"
    case .loss: return "loss"
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
    case .dropout: return "Dropout"
    case .loss(let a): return a.kind.rawValue.prefix(1).uppercased() + a.kind.rawValue.dropFirst()
    case .convInputGrad, .convWeightGrad, .poolGrad, .reduceGrad, .unaryGrad, .maxoutGrad, .embeddingGrad,
      .sliceGrad, .padGrad, .resizeGrad, .batchNormGrad, .lossGrad:
      return "Gradient(\(mnemonic))"
    }
  }
}
