import Testing

@testable import Kiln

@Suite struct ConvolutionTests {
  let image = T([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])
  let kernel = T([1, 1, 2, 2], [1, 2, 3, 4])

  @Test func conv2DByHand() throws {
    // out[i][j] = Σ x[i+a][j+b]·w[a][b]: 1·1 + 2·2 + 4·3 + 5·4 = 37, …
    expectClose(try apply(.conv(convAttrs(rank: 2)), [image, kernel]), [1, 1, 2, 2], [37, 47, 67, 77])
    // With a bias of 1.
    expectClose(try apply(.conv(convAttrs(rank: 2)), [image, kernel, T([1], [1])]), [1, 1, 2, 2], [38, 48, 68, 78])
  }

  @Test func conv2DStrideAndZeroPadding() throws {
    // Padded to 5×5, windows at (−1,−1), (−1,1), (1,−1), (1,1):
    // 1·4 = 4; 2·3 + 3·4 = 18; 4·2 + 7·4 = 36; 5·1 + 6·2 + 8·3 + 9·4 = 77.
    expectClose(try apply(.conv(convAttrs(rank: 2, stride: 2, pad: 1)), [image, kernel]), [1, 1, 2, 2], [4, 18, 36, 77])
  }

  @Test(arguments: [
    (PaddingMode.zero, [0.0, 0, 1, 2, 3, 0, 0]),
    (.replicate, [1, 1, 1, 2, 3, 3, 3]),
    (.reflect, [3, 2, 1, 2, 3, 2, 1]),
    (.circular, [2, 3, 1, 2, 3, 1, 2]),
  ])
  func conv1DPaddingModes(mode: PaddingMode, expected: [Double]) throws {
    // A 1-wide identity kernel shows the padded signal itself.
    let out = try apply(.conv(convAttrs(rank: 1, pad: 2, mode: mode)), [T([1, 1, 3], [1, 2, 3]), T([1, 1, 1], [1])])
    expectClose(out, [1, 1, 7], expected)
  }

  @Test func conv2DReplicateAndCircularPadding() throws {
    let x = T([1, 1, 2, 2], [1, 2, 3, 4])
    let ones = T([1, 1, 3, 3], Array(repeating: 1, count: 9))
    // Replicate-padded 4×4 image: rows [1,1,2,2] [1,1,2,2] [3,3,4,4] [3,3,4,4]; 3×3 window sums.
    expectClose(try apply(.conv(convAttrs(rank: 2, pad: 1, mode: .replicate)), [x, ones]), [1, 1, 2, 2], [18, 21, 24, 27])
    // Circular: the window at (0,0) reads rows 1,0,1 and columns 1,0,1, so 1·1 + 2·2 + 3·2 + 4·4 = 27.
    expectClose(try apply(.conv(convAttrs(rank: 2, pad: 1, mode: .circular)), [x, ones]), [1, 1, 2, 2], [27, 24, 21, 18])
  }

  @Test func conv1DDilationAndStride() throws {
    // Dilation 2: out[i] = x[i] + 10·x[i+2].
    let x = T([1, 1, 5], [1, 2, 3, 4, 5])
    expectClose(try apply(.conv(convAttrs(rank: 1, dilation: 2)), [x, T([1, 1, 2], [1, 10])]), [1, 1, 3], [31, 42, 53])
    // Stride 2: windows at 0 and 2.
    expectClose(try apply(.conv(convAttrs(rank: 1, stride: 2)), [x, T([1, 1, 2], [1, -1])]), [1, 1, 2], [-1, -1])
  }

  @Test func groupedAndDepthwiseByHand() throws {
    // Two groups of two channels: out0 = 1·1 + 2·1, out1 = 3·10 + 4·100.
    let grouped = try apply(.conv(convAttrs(rank: 2, groups: 2)), [T([1, 4, 1, 1], [1, 2, 3, 4]), T([2, 2, 1, 1], [1, 1, 10, 100])])
    expectClose(grouped, [1, 2, 1, 1], [3, 430])
    // Depthwise: channel 0 with the main diagonal (1 + 4), channel 1 with the other (6 + 7).
    let x = T([1, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
    let depthwise = try apply(.conv(convAttrs(rank: 2, groups: 2)), [x, T([2, 1, 2, 2], [1, 0, 0, 1, 0, 1, 1, 0])])
    expectClose(depthwise, [1, 2, 1, 1], [5, 13])
  }

  @Test func conv3DByHand() throws {
    // A 2×2×2 kernel 1…8 over a 2×2×2 input 1…8: Σ i² = 204, plus bias 0.5.
    let out = try apply(.conv(convAttrs(rank: 3)), [iota([1, 1, 2, 2, 2], from: 1), iota([1, 1, 2, 2, 2], from: 1), T([1], [0.5])])
    expectClose(out, [1, 1, 1, 1, 1], [204.5])
  }

  @Test func pointwiseConvEqualsDensePerPixel() throws {
    let x = random([2, 3, 4, 5], seed: 1)
    let w = random([6, 3, 1, 1], seed: 2)
    let b = random([6], seed: 3)
    let conv = try apply(.conv(convAttrs(rank: 2)), [x, w, b])
    for n in 0..<2 {
      for h in 0..<4 {
        for wIndex in 0..<5 {
          let pixel = T([1, 3], (0..<3).map { x[n, $0, h, wIndex] })
          let dense = try apply(.dense(DenseAttrs()), [pixel, w.reshaped([6, 3]), b])
          for c in 0..<6 { #expect(abs(dense[0, c] - conv[n, c, h, wIndex]) < 1e-12) }
        }
      }
    }
  }

  @Test(arguments: [(1, 0, 1), (2, 1, 1), (1, 2, 2), (3, 1, 2)])
  func convEqualsIm2colTimesGEMM(stride: Int, pad: Int, dilation: Int) throws {
    let (n, c, h, w, k, out) = (2, 3, 7, 6, 3, 4)
    let x = random([n, c, h, w], seed: 10)
    let weight = random([out, c, k, k], seed: 11)
    let conv = try apply(.conv(convAttrs(rank: 2, stride: stride, pad: pad, dilation: dilation)), [x, weight])
    let (oh, ow) = (conv.shape[2], conv.shape[3])
    // im2col: one column per output pixel, one row per (channel, ky, kx).
    for image in 0..<n {
      for y in 0..<oh {
        for xo in 0..<ow {
          var column: [Double] = []
          for channel in 0..<c {
            for ky in 0..<k {
              for kx in 0..<k {
                let (iy, ix) = (y * stride - pad + ky * dilation, xo * stride - pad + kx * dilation)
                column.append((0..<h).contains(iy) && (0..<w).contains(ix) ? x[image, channel, iy, ix] : 0)
              }
            }
          }
          for filter in 0..<out {
            let row = weight.scalars[(filter * c * k * k)..<((filter + 1) * c * k * k)]
            let gemm = zip(row, column).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(gemm - conv[image, filter, y, xo]) < 1e-10)
          }
        }
      }
    }
  }

  @Test func depthwiseEqualsPerChannelConvolution() throws {
    let x = random([1, 3, 5, 5], seed: 20)
    let w = random([3, 1, 3, 3], seed: 21)
    let depthwise = try apply(.conv(convAttrs(rank: 2, pad: 1, groups: 3)), [x, w])
    for channel in 0..<3 {
      let single = try apply(
        .conv(convAttrs(rank: 2, pad: 1)),
        [T([1, 1, 5, 5], Array(x.scalars[(channel * 25)..<((channel + 1) * 25)])),
         T([1, 1, 3, 3], Array(w.scalars[(channel * 9)..<((channel + 1) * 9)]))])
      for (a, b) in zip(single.scalars, depthwise.scalars[(channel * 25)..<((channel + 1) * 25)]) { #expect(abs(a - b) < 1e-12) }
    }
  }

  @Test func transposedConv1DByHand() throws {
    // Each input scatters x·[1, 10, 100] at 2·i: [1,10,100,0,0] + [0,0,2,20,200].
    let x = T([1, 1, 2], [1, 2])
    let w = T([1, 1, 3], [1, 10, 100])
    func transposed(pad: Int, outputPad: Int) -> Op {
      .convTranspose(ConvTransposeAttrs(stride: [2], padding: .symmetric(pad, rank: 1), outputPadding: [outputPad], dilation: [1]))
    }
    expectClose(try apply(transposed(pad: 0, outputPad: 0), [x, w]), [1, 1, 5], [1, 10, 102, 20, 200])
    expectClose(try apply(transposed(pad: 1, outputPad: 0), [x, w]), [1, 1, 3], [10, 102, 20])
    expectClose(try apply(transposed(pad: 1, outputPad: 1), [x, w]), [1, 1, 4], [10, 102, 20, 200])
    expectClose(try apply(transposed(pad: 0, outputPad: 0), [x, w, T([1], [0.5])]), [1, 1, 5], [1.5, 10.5, 102.5, 20.5, 200.5])
  }

  /// ⟨conv(x), y⟩ = ⟨x, convT(y)⟩ for the same weight, stride, padding, dilation and groups.
  @Test(arguments: [
    ([7], 1, 0, 1, 1), ([9], 2, 1, 1, 1), ([8, 7], 2, 1, 1, 2), ([9, 9], 1, 2, 2, 1), ([6, 7], 3, 1, 1, 1), ([5, 4, 6], 2, 1, 1, 2),
  ])
  func transposedConvIsTheAdjointOfConv(spatial: [Int], stride: Int, pad: Int, dilation: Int, groups: Int) throws {
    let rank = spatial.count
    let (inChannels, outChannels, k) = (4, 6, 3)
    let x = random([2, inChannels] + spatial, seed: 30)
    let w = random([outChannels, inChannels / groups] + Array(repeating: k, count: rank), seed: 31)
    let forward = convAttrs(rank: rank, stride: stride, pad: pad, dilation: dilation, groups: groups)
    let convolved = try apply(.conv(forward), [x, w])
    let y = random(convolved.shape, seed: 32)
    let outputPadding = spatial.indices.map { i in
      spatial[i] - ((convolved.shape[2 + i] - 1) * stride - 2 * pad + dilation * (k - 1) + 1)
    }
    let adjoint = ConvTransposeAttrs(
      stride: forward.stride, padding: forward.padding, outputPadding: outputPadding, dilation: forward.dilation, groups: groups)
    let back = try apply(.convTranspose(adjoint), [y, w])
    #expect(back.shape == x.shape)
    let left = zip(convolved.scalars, y.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    let right = zip(x.scalars, back.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    #expect(abs(left - right) < 1e-9 * max(1, abs(left)))
  }

  @Test(arguments: [
    (32, 5, 1, 0, 1, 28), (28, 3, 1, 1, 1, 28), (224, 7, 2, 3, 1, 112), (7, 3, 2, 0, 1, 3), (10, 3, 1, 0, 2, 6),
    (5, 3, 2, 1, 1, 3), (6, 3, 2, 1, 1, 3), (227, 11, 4, 0, 1, 55),
  ])
  func outputSizeArithmetic(input: Int, kernel: Int, stride: Int, pad: Int, dilation: Int, expected: Int) throws {
    // floor((W − F + 2P − (D − 1)(F − 1)) / S) + 1
    let attrs = convAttrs(rank: 1, stride: stride, pad: pad, dilation: dilation)
    let type = try attrs.outputType([TensorType([1, 1, input]), TensorType([1, 1, kernel])])
    #expect(type.shape == [1, 1, expected])
  }

  @Test func convLayerParameterCountAndSamePadding() throws {
    // A 3×3 conv from 3 to 16 channels: 16·3·3·3 weights + 16 biases = 448.
    let graph = try Graph(name: "c", input: [1, 3, 7, 10]) {
      Conv2D(16, kernel: 3, stride: [2, 1], padding: .same)
    }
    #expect(Summary(graph).trainableParameters == 448)
    // "same": ⌈7/2⌉ = 4 rows (total padding 2: 1 + 1) and 10 columns (total 2: 1 + 1).
    #expect(graph[graph.outputs[0]].type.shape == [1, 16, 4, 10])
    let even = try Graph(name: "e", input: [1, 1, 10]) { Conv1D(1, kernel: 4, padding: .same) }
    guard case .conv(let attrs) = even[even.outputs[0]].op else { Issue.record("not a conv"); return }
    // An even kernel needs 3 padding: 1 before, 2 after.
    #expect(attrs.padding == Padding(before: [1], after: [2]))
  }
}
