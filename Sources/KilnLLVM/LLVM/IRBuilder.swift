import CLLVM
import Kiln

/// One LLVM module under construction, with the small part of the IR builder Kiln's kernels use:
/// counted loops, float arithmetic, loads and stores at element indices, constant tables and
/// BLAS calls. Owns its context, module and builder.
final class IRBuilder {
  let context: LLVMContextRef
  let module: LLVMModuleRef
  let builder: LLVMBuilderRef

  let f32: LLVMTypeRef
  let i32: LLVMTypeRef
  let i64: LLVMTypeRef
  let i1: LLVMTypeRef
  let void: LLVMTypeRef
  let floatPointer: LLVMTypeRef
  let intPointer: LLVMTypeRef
  let bytePointer: LLVMTypeRef

  /// A module in a context of its own (so that modules compile in parallel).
  init(name: String) {
    context = LLVMContextCreate()
    module = LLVMModuleCreateWithNameInContext(name, context)
    builder = LLVMCreateBuilderInContext(context)
    f32 = LLVMFloatTypeInContext(context)
    i32 = LLVMInt32TypeInContext(context)
    i64 = LLVMInt64TypeInContext(context)
    i1 = LLVMInt1TypeInContext(context)
    void = LLVMVoidTypeInContext(context)
    floatPointer = LLVMPointerType(f32, 0)
    intPointer = LLVMPointerType(i32, 0)
    bytePointer = LLVMPointerType(LLVMInt8TypeInContext(context), 0)
  }

  deinit {
    LLVMDisposeBuilder(builder)
    LLVMDisposeModule(module)
    LLVMContextDispose(context)
  }

  // MARK: - Functions and blocks

  /// Declares a function; `internal` ones may be inlined and dropped after optimisation.
  /// Pointer parameters are marked `noalias`, and the function asks for 512-bit vectors.
  func function(_ name: String, parameters: [LLVMTypeRef], returns: LLVMTypeRef, isInternal: Bool) -> LLVMValueRef {
    var types: [LLVMTypeRef?] = parameters
    let type = LLVMFunctionType(returns, &types, UInt32(types.count), 0)
    let function = LLVMAddFunction(module, name, type)!
    if isInternal { LLVMSetLinkage(function, LLVMInternalLinkage) }
    let noalias = LLVMGetEnumAttributeKindForName("noalias", 7)
    for (index, parameter) in parameters.enumerated() where LLVMGetTypeKind(parameter) == LLVMPointerTypeKind {
      LLVMAddAttributeAtIndex(function, UInt32(index + 1), LLVMCreateEnumAttribute(context, noalias, 0))
    }
    // LLVMAttributeFunctionIndex is ~0U.
    LLVMAddAttributeAtIndex(function, UInt32.max, LLVMCreateStringAttribute(context, "prefer-vector-width", 19, "512", 3))
    return function
  }

  /// Starts emitting at a new entry block of `function`.
  func beginBody(of function: LLVMValueRef) {
    resume(at: LLVMAppendBasicBlockInContext(context, function, "entry")!)
  }

  var currentFunction: LLVMValueRef { LLVMGetBasicBlockParent(currentBlock)! }

  /// The block emission is in.
  var currentBlock: LLVMBasicBlockRef { LLVMGetInsertBlock(builder)! }

  /// The name of the function being emitted.
  var currentFunctionName: String {
    var length = 0
    return LLVMGetValueName2(currentFunction, &length).map { String(cString: $0) } ?? ""
  }

  /// Continues emitting at the end of `block`.
  func resume(at block: LLVMBasicBlockRef) { LLVMPositionBuilderAtEnd(builder, block) }

  /// Parameter `index` of `function`.
  func parameter(_ function: LLVMValueRef, _ index: Int) -> LLVMValueRef { LLVMGetParam(function, UInt32(index))! }

  /// The number of parameters of `function`.
  func parameterCount(_ function: LLVMValueRef) -> Int { Int(LLVMCountParams(function)) }

  /// Keeps `function` out of a shared object's exported symbols.
  func hide(_ function: LLVMValueRef) { LLVMSetVisibility(function, LLVMHiddenVisibility) }

  /// Returns `value` (nil: nothing) from the function being emitted.
  func ret(_ value: LLVMValueRef? = nil) {
    if let value { LLVMBuildRet(builder, value) } else { LLVMBuildRetVoid(builder) }
  }

  /// Returns `value` at once; emission continues in a fresh, unreachable block.
  func returnEarly(_ value: LLVMValueRef) {
    ret(value)
    resume(at: newBlock("after.return"))
  }

  func newBlock(_ name: String) -> LLVMBasicBlockRef {
    LLVMAppendBasicBlockInContext(context, currentFunction, name)!
  }

  // MARK: - Loops

  /// Copies `count` floats from `source` to `target` with one `memmove` (a copy loop gets fully
  /// unrolled into thousands of instructions).
  func copy(_ count: Int, from source: LLVMValueRef, to target: LLVMValueRef) {
    _ = LLVMBuildMemMove(builder, target, 4, source, 4, int(4 * count))
  }

  /// `for i in 0..<count { body(i) }` with an i64 counter; nothing when `count` is 0.
  func loop(_ count: Int, _ body: (LLVMValueRef) throws -> Void) rethrows {
    guard count > 0 else { return }
    try loop(from: int(0), to: int(count), knownNonEmpty: true, body)
  }

  /// `body(first)` for vectors of `lanes` covering 0..<`count` (`lanes` ≤ `count`): whole
  /// ones from 0, then, when `count` is not a multiple of `lanes`, one ending at `count`, which
  /// overlaps the one before (for code that writes the same values again), so no lane is masked.
  func overlappingVectors(_ count: Int, lanes: Int, _ body: (LLVMValueRef) -> Void) {
    loop(count / lanes) { i in body(mul(i, int(lanes))) }
    if count % lanes != 0 { body(int(count - lanes)) }
  }

  /// `for i in start..<end { body(i) }` over i64 values computed at run time; with `unroll`, LLVM
  /// unrolls it exactly that many times (1: not at all) instead of as it sees fit (a
  /// register-blocked body unrolled many times over can be scheduled into more registers than
  /// the target has).
  func loop(
    from start: LLVMValueRef, to end: LLVMValueRef, knownNonEmpty: Bool = false, unroll: Int? = nil, _ body: (LLVMValueRef) throws -> Void
  ) rethrows {
    let preheader = currentBlock
    let header = newBlock("loop")
    let exit = newBlock("loop.exit")
    if knownNonEmpty {
      LLVMBuildBr(builder, header)
    } else {
      LLVMBuildCondBr(builder, LLVMBuildICmp(builder, LLVMIntSLT, start, end, "nonempty"), header, exit)
    }
    resume(at: header)
    let index = LLVMBuildPhi(builder, i64, "i")!
    try body(index)
    let next = LLVMBuildAdd(builder, index, int(1), "next")!
    let latch = currentBlock
    let branch = LLVMBuildCondBr(builder, LLVMBuildICmp(builder, LLVMIntSLT, next, end, "more"), header, exit)!
    if let unroll { LLVMSetMetadata(branch, LLVMGetMDKindIDInContext(context, "llvm.loop", UInt32("llvm.loop".utf8.count)), unrolled(unroll)) }
    var values: [LLVMValueRef?] = [start, next]
    var blocks: [LLVMBasicBlockRef?] = [preheader, latch]
    LLVMAddIncoming(index, &values, &blocks, 2)
    resume(at: exit)
  }

  /// Loop metadata `!{self, !{"llvm.loop.unroll.count", i32 count}}`: a loop ID refers to
  /// itself, so a temporary node stands in for it until the node exists.
  private func unrolled(_ count: Int) -> LLVMValueRef {
    let name = "llvm.loop.unroll.count"
    var hint: [LLVMMetadataRef?] = [LLVMMDStringInContext2(context, name, name.utf8.count), LLVMValueAsMetadata(int32(count))]
    let placeholder = LLVMTemporaryMDNode(context, nil, 0)
    var operands: [LLVMMetadataRef?] = [placeholder, LLVMMDNodeInContext2(context, &hint, 2)]
    let node = LLVMMDNodeInContext2(context, &operands, 2)!
    LLVMMetadataReplaceAllUsesWith(placeholder, node)
    return LLVMMetadataAsValue(context, node)
  }

  /// Runs `then` where `condition` holds and `otherwise` where it does not.
  func ifElse(_ condition: LLVMValueRef, _ then: () -> Void, otherwise: () -> Void) {
    let (yes, no, done) = (newBlock("then"), newBlock("else"), newBlock("endif"))
    LLVMBuildCondBr(builder, condition, yes, no)
    resume(at: yes)
    then()
    LLVMBuildBr(builder, done)
    resume(at: no)
    otherwise()
    LLVMBuildBr(builder, done)
    resume(at: done)
  }

  /// `body(size)` for block `index` of blocks `size` wide, of which the last (number `whole`)
  /// holds only `rest` when `rest` > 0: code for each width, chosen at run time.
  func forBlock(_ index: LLVMValueRef, whole: Int, size: Int, rest: Int, _ body: (Int) -> Void) {
    guard rest > 0 else { return body(size) }
    ifElse(icmp(LLVMIntEQ, index, int(whole))) { body(rest) } otherwise: { body(size) }
  }

  /// Runs `then` only where `condition` holds.
  func when(_ condition: LLVMValueRef, _ then: () throws -> Void) rethrows {
    let body = newBlock("then")
    let done = newBlock("endif")
    LLVMBuildCondBr(builder, condition, body, done)
    resume(at: body)
    try then()
    LLVMBuildBr(builder, done)
    resume(at: done)
  }

  // MARK: - Values

  func int(_ value: Int) -> LLVMValueRef { LLVMConstInt(i64, UInt64(bitPattern: Int64(value)), 1) }
  func int(bits: UInt64) -> LLVMValueRef { LLVMConstInt(i64, bits, 0) }
  func double(_ value: Double) -> LLVMValueRef { LLVMConstReal(LLVMDoubleTypeInContext(context), value) }
  func int32(_ value: Int) -> LLVMValueRef { LLVMConstInt(i32, UInt64(bitPattern: Int64(value)), 1) }
  func float(_ value: Double) -> LLVMValueRef { LLVMConstReal(f32, value) }

  func add(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildAdd(builder, a, b, "")! }
  func sub(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildSub(builder, a, b, "")! }
  func mul(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildMul(builder, a, b, "")! }
  /// Unsigned quotient and remainder (of non-negative indices).
  func udiv(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildUDiv(builder, a, b, "")! }
  func urem(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildURem(builder, a, b, "")! }
  /// `index`·`stride` for a stride known at compile time (no multiply for 0 and 1).
  func scaled(_ index: LLVMValueRef, _ stride: Int) -> LLVMValueRef {
    stride == 0 ? int(0) : stride == 1 ? index : mul(index, int(stride))
  }
  /// a·`scale` + `offset` on i64 values, folding the constants.
  func affine(_ a: LLVMValueRef, _ scale: Int, _ offset: Int = 0) -> LLVMValueRef {
    let scaled = scale == 1 ? a : mul(a, int(scale))
    return offset == 0 ? scaled : add(scaled, int(offset))
  }

  func fadd(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildFAdd(builder, a, b, "")! }
  func fsub(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildFSub(builder, a, b, "")! }
  func fmul(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildFMul(builder, a, b, "")! }
  func fdiv(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildFDiv(builder, a, b, "")! }

  func select(_ condition: LLVMValueRef, _ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef {
    LLVMBuildSelect(builder, condition, a, b, "")!
  }

  func fcmp(_ predicate: LLVMRealPredicate, _ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef {
    LLVMBuildFCmp(builder, predicate, a, b, "")!
  }

  func icmp(_ predicate: LLVMIntPredicate, _ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef {
    LLVMBuildICmp(builder, predicate, a, b, "")!
  }

  func and(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildAnd(builder, a, b, "")! }
  func or(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildOr(builder, a, b, "")! }
  func xor(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { LLVMBuildXor(builder, a, b, "")! }
  /// `a` shifted right by `bits`, zeros shifted in.
  func shiftRight(_ a: LLVMValueRef, _ bits: Int) -> LLVMValueRef { LLVMBuildLShr(builder, a, int(bits), "")! }

  /// Whether the integer `index` lies outside 0..<count.
  func isOutside(_ index: LLVMValueRef, count: Int) -> LLVMValueRef {
    or(icmp(LLVMIntSLT, index, int(0)), icmp(LLVMIntSGE, index, int(count)))
  }

  /// max(a, b) for floats, NaN when either is (as in PyTorch and ONNX Runtime, and the
  /// interpreter's `KilnScalar.propagatingMax`): b when it is larger or NaN, else a.
  func fmax(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { select(or(fcmp(LLVMRealOGT, b, a), isNaN(b)), b, a) }
  func fmin(_ a: LLVMValueRef, _ b: LLVMValueRef) -> LLVMValueRef { select(or(fcmp(LLVMRealOLT, b, a), isNaN(b)), b, a) }

  /// Whether `b` replaces `a` as the first maximum of a sequence: it is larger, or it is the
  /// first NaN (`KilnScalar.isPreferredMaximum`).
  func isPreferredMaximum(_ b: LLVMValueRef, over a: LLVMValueRef) -> LLVMValueRef {
    or(fcmp(LLVMRealOGT, b, a), and(isNaN(b), fcmp(LLVMRealORD, a, a)))
  }

  func isNaN(_ v: LLVMValueRef) -> LLVMValueRef { fcmp(LLVMRealUNO, v, v) }

  /// a·b + c through `llvm.fmuladd`, which becomes an FMA instruction.
  func fma(_ a: LLVMValueRef, _ b: LLVMValueRef, _ c: LLVMValueRef) -> LLVMValueRef {
    intrinsic("llvm.fmuladd", [a, b, c], type: LLVMTypeOf(a))
  }

  /// Calls a float intrinsic (`llvm.exp.f32`, `llvm.sqrt.f32`, …), overloaded on `type`.
  func intrinsic(_ name: String, _ arguments: [LLVMValueRef], type: LLVMTypeRef? = nil) -> LLVMValueRef {
    let id = LLVMLookupIntrinsicID(name, name.utf8.count)
    var types: [LLVMTypeRef?] = [type ?? f32]
    let declaration = LLVMGetIntrinsicDeclaration(module, id, &types, 1)
    var args: [LLVMValueRef?] = arguments
    return LLVMBuildCall2(builder, LLVMIntrinsicGetType(context, id, &types, 1), declaration, &args, UInt32(args.count), "")!
  }

  /// eˣ of a float or lane by lane of a vector, inline (so loops of it vectorise): Cephes'
  /// expf, x = n·ln 2 + r with |r| ≤ ½ln 2, a degree-6 polynomial for eʳ, 2ⁿ built in the exponent
  /// bits; about 1 ulp. +∞ above 88.72, 0 below −88.37, NaN stays NaN.
  func exp(_ x: LLVMValueRef) -> LLVMValueRef {
    let type = LLVMTypeOf(x)!
    let lanes = LLVMGetTypeKind(type) == LLVMVectorTypeKind ? Int(LLVMGetVectorSize(type)) : 0
    let intType = lanes > 0 ? LLVMVectorType(i32, UInt32(lanes))! : i32
    func c(_ value: Double) -> LLVMValueRef { constant(value, like: x) }
    func integer(_ value: Int) -> LLVMValueRef {
      let scalar = LLVMConstInt(i32, UInt64(bitPattern: Int64(value)), 1)!
      guard lanes > 0 else { return scalar }
      var all = [LLVMValueRef?](repeating: scalar, count: lanes)
      return LLVMConstVector(&all, UInt32(lanes))
    }
    let clamped = fmin(fmax(x, c(-88.3762626647949)), c(88.3762626647949))
    let n = intrinsic("llvm.floor", [fma(clamped, c(1.44269504088896341), c(0.5))], type: type)
    var r = fma(n, c(-0.693359375), clamped)
    r = fma(n, c(2.12194440e-4), r)
    var p = c(1.9875691500e-4)
    for coefficient in [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1] {
      p = fma(p, r, c(coefficient))
    }
    let polynomial = fadd(fma(p, fmul(r, r), r), c(1))
    let exponent = LLVMBuildShl(builder, LLVMBuildAdd(builder, LLVMBuildFPToSI(builder, n, intType, "")!, integer(127), "")!, integer(23), "")!
    let result = fmul(polynomial, LLVMBuildBitCast(builder, exponent, type, "")!)
    return select(isNaN(x), x, select(fcmp(LLVMRealOGT, x, c(88.72283905206835)), c(.infinity), result))
  }

  func toFloat(_ value: LLVMValueRef) -> LLVMValueRef { LLVMBuildSIToFP(builder, value, f32, "")! }
  func toInt64(_ value: LLVMValueRef) -> LLVMValueRef { LLVMBuildSExt(builder, value, i64, "")! }
  /// The unsigned integer `value` as a double.
  func unsignedToDouble(_ value: LLVMValueRef) -> LLVMValueRef { LLVMBuildUIToFP(builder, value, LLVMDoubleTypeInContext(context), "")! }

  // MARK: - Types

  func typeOf(_ value: LLVMValueRef) -> LLVMTypeRef { LLVMTypeOf(value)! }
  func isPointer(_ value: LLVMValueRef) -> Bool { LLVMGetTypeKind(LLVMTypeOf(value)) == LLVMPointerTypeKind }
  func isVector(_ value: LLVMValueRef) -> Bool { LLVMGetTypeKind(LLVMTypeOf(value)) == LLVMVectorTypeKind }
  func pointer(to type: LLVMTypeRef) -> LLVMTypeRef { LLVMPointerType(type, 0)! }
  /// A null `i8*` (a pool pointer that says: one thread).
  var nullBytePointer: LLVMValueRef { LLVMConstPointerNull(bytePointer)! }

  /// `value`, a pointer or a 64-bit integer, as an `i8*` (to pass through a context array).
  func asBytePointer(_ value: LLVMValueRef) -> LLVMValueRef {
    isPointer(value) ? LLVMBuildBitCast(builder, value, bytePointer, "")! : LLVMBuildIntToPtr(builder, value, bytePointer, "")!
  }

  /// The `i8*` `raw` back as a value of `type`, a pointer or a 64-bit integer (`asBytePointer`'s inverse).
  func fromBytePointer(_ raw: LLVMValueRef, as type: LLVMTypeRef) -> LLVMValueRef {
    LLVMGetTypeKind(type) == LLVMPointerTypeKind ? LLVMBuildBitCast(builder, raw, type, "")! : LLVMBuildPtrToInt(builder, raw, type, "")!
  }

  // MARK: - Vectors

  /// `<lanes x float>`.
  func vectorType(_ lanes: Int) -> LLVMTypeRef { LLVMVectorType(f32, UInt32(lanes))! }

  /// `value` as a float, or in every lane when `like` is a vector.
  func constant(_ value: Double, like: LLVMValueRef) -> LLVMValueRef {
    let type = LLVMTypeOf(like)!
    guard LLVMGetTypeKind(type) == LLVMVectorTypeKind else { return float(value) }
    var lanes = [LLVMValueRef?](repeating: float(value), count: Int(LLVMGetVectorSize(type)))
    return LLVMConstVector(&lanes, UInt32(lanes.count))
  }

  /// Lane `lane` of `vector`.
  func extract(_ vector: LLVMValueRef, lane: Int) -> LLVMValueRef { LLVMBuildExtractElement(builder, vector, int32(lane), "")! }

  /// A vector of `lanes` zeros.
  func zeroVector(_ lanes: Int) -> LLVMValueRef { LLVMConstNull(vectorType(lanes))! }

  /// Fills `buffer` (`lanes` floats a row, `rows` rows, from a `stackSlot`) with `value(lane, row)`
  /// for the first `count` lanes, zeros in the others, in a loop over the lanes; row r is then
  /// the vector at r·`lanes`: a gather of strided floats into vectors in a few instructions to
  /// compile however many lanes (unrolled, a Winograd weight transform's 144 loads and inserts
  /// were a good part of its kernel's code generation time).
  func fillLanes(_ buffer: LLVMValueRef, lanes: Int, rows: Int, count: Int, _ value: (_ lane: LLVMValueRef, _ row: Int) -> LLVMValueRef) {
    if count < lanes { for row in 0..<rows { storeVector(zeroVector(lanes), buffer, int(row * lanes)) } }
    loop(from: int(0), to: int(count), knownNonEmpty: true, unroll: 1) { lane in
      for row in 0..<rows { store(value(lane, row), buffer, affine(lane, 1, row * lanes)) }
    }
  }

  /// A vector of `lanes` floats holding `scalars` in its first lanes and zeros after them.
  func vector(_ scalars: [LLVMValueRef], lanes: Int) -> LLVMValueRef {
    scalars.enumerated().reduce(zeroVector(lanes)) { vector, lane in LLVMBuildInsertElement(builder, vector, lane.element, int32(lane.offset), "")! }
  }

  /// The sum of `vector`'s lanes, halves added pairwise (lanes a power of two).
  func laneSum(_ vector: LLVMValueRef) -> LLVMValueRef {
    var (value, lanes) = (vector, Int(LLVMGetVectorSize(LLVMTypeOf(vector))))
    while lanes > 1 {
      lanes /= 2
      func half(_ from: Int) -> LLVMValueRef { shuffle(value, LLVMGetUndef(LLVMTypeOf(value)), Array(from..<(from + lanes))) }
      value = fadd(half(0), half(lanes))
    }
    return extract(value, lane: 0)
  }

  /// Lanes `first`, `first` + `stride`, `first` + 2·`stride`, … of `vector`: `lanes` of them.
  func everyNth(_ vector: LLVMValueRef, _ stride: Int, from first: Int = 0, lanes: Int) -> LLVMValueRef {
    shuffle(vector, LLVMGetUndef(LLVMTypeOf(vector)), (0..<lanes).map { first + $0 * stride })
  }

  /// `vectors` (of equal lanes) interleaved: lane j of the result is lane j / n of vector j % n,
  /// for n vectors (the inverse of `everyNth`).
  func interleave(_ vectors: [LLVMValueRef]) -> LLVMValueRef {
    let (n, lanes) = (vectors.count, Int(LLVMGetVectorSize(LLVMTypeOf(vectors[0]))))
    // Concatenated pairwise (shuffles take two vectors), padded to a power of two with undef.
    var parts = vectors
    while parts.count & (parts.count - 1) != 0 { parts.append(LLVMGetUndef(LLVMTypeOf(vectors[0]))) }
    while parts.count > 1 {
      let width = Int(LLVMGetVectorSize(LLVMTypeOf(parts[0])))
      parts = stride(from: 0, to: parts.count, by: 2).map { shuffle(parts[$0], parts[$0 + 1], Array(0..<(2 * width))) }
    }
    return shuffle(parts[0], LLVMGetUndef(LLVMTypeOf(parts[0])), (0..<(n * lanes)).map { $0 % n * lanes + $0 / n })
  }

  /// The lanes of `a` followed by those of `b` picked by `indices`.
  private func shuffle(_ a: LLVMValueRef, _ b: LLVMValueRef, _ indices: [Int]) -> LLVMValueRef {
    var mask: [LLVMValueRef?] = indices.map { int32($0) }
    return LLVMBuildShuffleVector(builder, a, b, LLVMConstVector(&mask, UInt32(mask.count)), "")!
  }

  /// A vector of `lanes` copies of the i32 `value`.
  func int32Vector(_ value: Int, lanes: Int) -> LLVMValueRef {
    var values = [LLVMValueRef?](repeating: int32(value), count: lanes)
    return LLVMConstVector(&values, UInt32(lanes))
  }

  /// `scalar` in every lane (a broadcast).
  func splat(_ scalar: LLVMValueRef, lanes: Int) -> LLVMValueRef {
    let type = vectorType(lanes)
    let single = LLVMBuildInsertElement(builder, LLVMGetUndef(type), scalar, int32(0), "")!
    var zeros = [LLVMValueRef?](repeating: int32(0), count: lanes)
    return LLVMBuildShuffleVector(builder, single, LLVMGetUndef(type), LLVMConstVector(&zeros, UInt32(lanes)), "")!
  }

  /// `lanes` floats from `pointer[index]` on, at any (4-byte) alignment; with `count`, only the
  /// first `count` are read (a masked load: nothing past them is touched) and the rest are zero.
  func loadVector(_ pointer: LLVMValueRef, _ index: LLVMValueRef, lanes: Int, count: Int? = nil) -> LLVMValueRef {
    loadVector(pointer, index, lanes: lanes, reading: 0..<min(count ?? lanes, lanes))
  }

  /// `lanes` floats from `pointer[index]` on, of which only the lanes in `reading` are read (a
  /// masked load: nothing outside them is touched, even before `pointer[index]`'s allocation when
  /// the index is negative); the other lanes are zero.
  func loadVector(_ pointer: LLVMValueRef, _ index: LLVMValueRef, lanes: Int, reading: Range<Int>) -> LLVMValueRef {
    let type = vectorType(lanes)
    let address = LLVMBuildBitCast(builder, element(pointer, index), LLVMPointerType(type, 0), "")!
    if reading != 0..<lanes {
      var mask: [LLVMValueRef?] = (0..<lanes).map { LLVMConstInt(i1, reading.contains($0) ? 1 : 0, 0) }
      let id = LLVMLookupIntrinsicID("llvm.masked.load", 16)
      var types: [LLVMTypeRef?] = [type, LLVMPointerType(type, 0)]
      let declaration = LLVMGetIntrinsicDeclaration(module, id, &types, 2)
      var arguments: [LLVMValueRef?] = [address, int32(4), LLVMConstVector(&mask, UInt32(lanes)), zeroVector(lanes)]
      return LLVMBuildCall2(builder, LLVMIntrinsicGetType(context, id, &types, 2), declaration, &arguments, 4, "")!
    }
    let value = LLVMBuildLoad2(builder, type, address, "")!
    LLVMSetAlignment(value, 4)
    return value
  }

  /// Asks the caches for the line holding `pointer[index]`, to be read soon (a hint: an address
  /// past the allocation does no harm).
  func prefetch(_ pointer: LLVMValueRef, _ index: LLVMValueRef) {
    let address = LLVMBuildBitCast(builder, element(pointer, index), bytePointer, "")!
    let id = LLVMLookupIntrinsicID("llvm.prefetch", 13)
    var types: [LLVMTypeRef?] = [bytePointer]
    let declaration = LLVMGetIntrinsicDeclaration(module, id, &types, 1)
    var arguments: [LLVMValueRef?] = [address, int32(0), int32(3), int32(1)]
    LLVMBuildCall2(builder, LLVMIntrinsicGetType(context, id, &types, 1), declaration, &arguments, 4, "")
  }

  /// Stores the first `count` lanes of `vector` at `pointer[index]…` (all of them by default).
  func storeVector(_ vector: LLVMValueRef, _ pointer: LLVMValueRef, _ index: LLVMValueRef, count: Int? = nil) {
    let lanes = Int(LLVMGetVectorSize(LLVMTypeOf(vector)))
    guard let count, count < lanes else {
      let address = LLVMBuildBitCast(builder, element(pointer, index), LLVMPointerType(LLVMTypeOf(vector), 0), "")!
      LLVMSetAlignment(LLVMBuildStore(builder, vector, address), 4)
      return
    }
    for lane in 0..<count {
      store(LLVMBuildExtractElement(builder, vector, int32(lane), "")!, pointer, add(index, int(lane)))
    }
  }

  /// Σⱼ matrix[i][j]·values[j] for each row i of a constant matrix, on floats or vectors:
  /// zeros skipped, ±1 as additions and subtractions.
  func combine(_ matrix: [[Double]], _ values: [LLVMValueRef]) -> [LLVMValueRef] {
    matrix.map { row in
      var sum: LLVMValueRef?
      for (coefficient, value) in zip(row, values) where coefficient != 0 {
        guard let partial = sum else {
          sum = coefficient == 1 ? value : fmul(constant(coefficient, like: value), value)
          continue
        }
        sum = coefficient == 1 ? fadd(partial, value) : coefficient == -1 ? fsub(partial, value) : vectorFMA(constant(coefficient, like: value), value, partial)
      }
      return sum ?? constant(0, like: values[0])
    }
  }

  /// a·b + c lane by lane, as FMA instructions.
  func vectorFMA(_ a: LLVMValueRef, _ b: LLVMValueRef, _ c: LLVMValueRef) -> LLVMValueRef {
    intrinsic("llvm.fmuladd", [a, b, c], type: LLVMTypeOf(a))
  }

  /// A stack slot holding a value of `type` (an accumulator that mem2reg keeps in a register).
  func load(_ type: LLVMTypeRef, from slot: LLVMValueRef) -> LLVMValueRef { LLVMBuildLoad2(builder, type, slot, "")! }
  func store(_ value: LLVMValueRef, to slot: LLVMValueRef) { LLVMBuildStore(builder, value, slot) }

  // MARK: - Memory

  /// A float stack slot in the function's entry block (where mem2reg turns it into registers;
  /// an alloca inside a loop would grow the stack on every iteration).
  func stackSlot(type: LLVMTypeRef? = nil, count: Int = 1) -> LLVMValueRef {
    let entry = LLVMGetEntryBasicBlock(currentFunction)
    let placer = LLVMCreateBuilderInContext(context)!
    defer { LLVMDisposeBuilder(placer) }
    if let first = LLVMGetFirstInstruction(entry) {
      LLVMPositionBuilderBefore(placer, first)
    } else {
      LLVMPositionBuilderAtEnd(placer, entry)
    }
    return count == 1
      ? LLVMBuildAlloca(placer, type ?? f32, "slot")! : LLVMBuildArrayAlloca(placer, type ?? f32, int(count), "slots")!
  }

  func element(_ pointer: LLVMValueRef, _ index: LLVMValueRef, type: LLVMTypeRef? = nil) -> LLVMValueRef {
    var indices: [LLVMValueRef?] = [index]
    return LLVMBuildGEP2(builder, type ?? f32, pointer, &indices, 1, "")!
  }

  func load(_ pointer: LLVMValueRef, _ index: LLVMValueRef) -> LLVMValueRef {
    LLVMBuildLoad2(builder, f32, element(pointer, index), "")!
  }

  func loadInt(_ pointer: LLVMValueRef, _ index: LLVMValueRef) -> LLVMValueRef {
    toInt64(LLVMBuildLoad2(builder, i32, element(pointer, index, type: i32), "")!)
  }

  func store(_ value: LLVMValueRef, _ pointer: LLVMValueRef, _ index: LLVMValueRef) {
    LLVMBuildStore(builder, value, element(pointer, index))
  }

  /// A private constant array of i32 (index tables), as an `i32*`.
  func table(_ values: [Int]) -> LLVMValueRef {
    constantArray(values.map { UInt32(bitPattern: Int32(truncatingIfNeeded: $0)) }, as: intPointer)
  }

  /// A private constant array of floats (interpolation weights), as a `float*`.
  func table(_ values: [Float]) -> LLVMValueRef { constantArray(values.map(\.bitPattern), as: floatPointer) }

  /// 4-byte words as a private constant global, cast to `pointer`. Built from raw little-endian
  /// bytes: one LLVM constant instead of one per element, which made big tables dominate compile
  /// time.
  private func constantArray(_ words: [UInt32], as pointer: LLVMTypeRef) -> LLVMValueRef {
    let bytes = words.map(\.littleEndian).withUnsafeBytes { Array($0.bindMemory(to: CChar.self)) }
    let array = LLVMConstStringInContext(context, bytes, UInt32(bytes.count), 1)
    let global = LLVMAddGlobal(module, LLVMArrayType(LLVMInt8TypeInContext(context), UInt32(bytes.count)), "table")!
    LLVMSetAlignment(global, 4)
    LLVMSetInitializer(global, array)
    LLVMSetGlobalConstant(global, 1)
    LLVMSetLinkage(global, LLVMPrivateLinkage)
    LLVMSetUnnamedAddr(global, 1)
    return LLVMBuildBitCast(builder, global, pointer, "")!
  }

  /// A pointer's address as an i64, to compare pointers.
  func pointerAddress(_ pointer: LLVMValueRef) -> LLVMValueRef { LLVMBuildPtrToInt(builder, pointer, i64, "")! }

  /// `float*` reinterpreted as `i32*` (integer tensors share the 4-byte buffers).
  func asInts(_ pointer: LLVMValueRef) -> LLVMValueRef { LLVMBuildBitCast(builder, pointer, intPointer, "")! }

  // MARK: - Calls

  func call(_ function: LLVMValueRef, _ arguments: [LLVMValueRef]) -> LLVMValueRef {
    var args: [LLVMValueRef?] = arguments
    return LLVMBuildCall2(builder, LLVMGlobalGetValueType(function), function, &args, UInt32(args.count), "")!
  }

  /// An external function, declared once.
  func external(_ name: String, parameters: [LLVMTypeRef], returns: LLVMTypeRef) -> LLVMValueRef {
    if let existing = LLVMGetNamedFunction(module, name) { return existing }
    var types: [LLVMTypeRef?] = parameters
    return LLVMAddFunction(module, name, LLVMFunctionType(returns, &types, UInt32(types.count), 0))!
  }

  /// C = op(A)·op(B) + β·C, row-major, on `pool`'s threads (a `kiln_pool *`, NULL: this one),
  /// through the runtime's `kiln_sgemm` — or `kiln_sgemv` when C is a single row or column
  /// (batch-1 dense layers, 1×1 outputs), where GEMM's blocking only costs time.
  func sgemm(
    pool: LLVMValueRef, transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, a: LLVMValueRef, lda: Int,
    b: LLVMValueRef, ldb: Int, c: LLVMValueRef, ldc: Int, beta: Double = 0
  ) {
    if n == 1 {
      // C[:, 0] = op(A)·B[:, 0]; B's column has stride ldb unless B is transposed.
      sgemv(
        pool: pool, transpose: transposeA, rows: transposeA ? k : m, columns: transposeA ? m : k, matrix: a, lda: lda, x: b,
        incX: transposeB ? 1 : ldb, y: c, incY: ldc, beta: beta)
      return
    }
    if m == 1 {
      // C[0, :] = op(B)ᵀ·A[0, :]; A's row has stride 1 unless A is transposed.
      sgemv(
        pool: pool, transpose: !transposeB, rows: transposeB ? n : k, columns: transposeB ? k : n, matrix: b, lda: ldb, x: a,
        incX: transposeA ? lda : 1, y: c, incY: 1, beta: beta)
      return
    }
    let sgemm = external(
      "kiln_sgemm", parameters: [bytePointer, i32, i32, i32, i32, i32, floatPointer, i32, floatPointer, i32, f32, floatPointer, i32],
      returns: void)
    _ = call(sgemm, [
      pool, int32(transposeA ? 1 : 0), int32(transposeB ? 1 : 0), int32(m), int32(n), int32(k), a, int32(lda), b, int32(ldb), float(beta), c,
      int32(ldc),
    ])
  }

  /// values ← Σ over the processes of `weight`·values, through the runtime's `kiln_all_reduce` and
  /// the communicator `pool` holds; returns its status (i32).
  func allReduce(pool: LLVMValueRef, values: LLVMValueRef, count: Int, weight: Double) -> LLVMValueRef {
    let allReduce = external("kiln_all_reduce", parameters: [bytePointer, floatPointer, i64, f32], returns: i32)
    return call(allReduce, [pool, values, int(count), float(weight)])
  }

  /// y = op(M)·x + β·y for a row-major `rows`×`columns` matrix, through the runtime's
  /// `kiln_sgemv` on `pool`'s threads.
  private func sgemv(
    pool: LLVMValueRef, transpose: Bool, rows: Int, columns: Int, matrix: LLVMValueRef, lda: Int, x: LLVMValueRef, incX: Int, y: LLVMValueRef,
    incY: Int, beta: Double
  ) {
    let sgemv = external(
      "kiln_sgemv", parameters: [bytePointer, i32, i32, i32, floatPointer, i32, floatPointer, i32, f32, floatPointer, i32], returns: void)
    _ = call(sgemv, [
      pool, int32(transpose ? 1 : 0), int32(rows), int32(columns), matrix, int32(lda), x, int32(incX), float(beta), y, int32(incY),
    ])
  }

  // MARK: - Module

  /// Checks the module; an LLVM complaint becomes a Kiln error.
  func verify() throws {
    var message: UnsafeMutablePointer<CChar>?
    defer { LLVMDisposeMessage(message) }
    if LLVMVerifyModule(module, LLVMReturnStatusAction, &message) != 0 {
      throw KilnError.invalidGraph("LLVM rejected the generated code: \(message.map { String(cString: $0) } ?? "")")
    }
  }
}
