// swift-tools-version:6.0
import PackageDescription

/// What the examples that compile and parse options use.
let example: [Target.Dependency] = ["Kiln", "KilnLLVM", .product(name: "ArgumentParser", package: "swift-argument-parser")]

let package = Package(
  name: "Kiln",
  platforms: [.macOS(.v14)],
  products: [
    .library(name: "Kiln", targets: ["Kiln"]),
    .library(name: "KilnLLVM", targets: ["KilnLLVM"]),
    .executable(name: "kiln", targets: ["kiln"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    // The runtime of the generated ONNX protobuf code (Sources/KilnONNX/onnx.pb.swift).
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    // `swift package generate-documentation`: the DocC catalogs of Kiln and KilnLLVM.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
  ],
  targets: [
    // C runtime shared by JIT'd code and every exported .so: error codes, arena, atomic files,
    // safetensors; the Swift library writes its files through it too.
    .target(name: "KilnRuntime", path: "runtime", linkerSettings: [.linkedLibrary("openblas")]),
    // zlib, for the gzip-compressed IDX files of the Fashion-MNIST package.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    // Open MPI (Debian's libopenmpi-dev), for data-parallel `kiln train` under mpirun; only the
    // command-line tool links it, never the library or a compiled model.
    .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
    // Optimised in debug builds too: the reference interpreter runs whole zoo models in the tests.
    .target(
      name: "Kiln",
      dependencies: ["CZlib", "KilnRuntime", .product(name: "RealModule", package: "swift-numerics")],
      swiftSettings: [.unsafeFlags(["-O"])]),
    // LLVM 14's C API (Debian's llvm-14-dev); the headers are symlinked into include/.
    .target(
      name: "CLLVM",
      cSettings: [.define("__STDC_CONSTANT_MACROS"), .define("__STDC_FORMAT_MACROS"), .define("__STDC_LIMIT_MACROS")],
      linkerSettings: [.linkedLibrary("LLVM-14")]),
    // Lowering of graphs to native code through LLVM: JIT and ahead-of-time objects.
    .target(
      name: "KilnLLVM",
      dependencies: ["Kiln", "CLLVM", "KilnRuntime"],
      linkerSettings: [.linkedLibrary("openblas")]),
    // ONNX import: onnx.proto's generated code and the mapping to Kiln's ops.
    .target(
      name: "KilnONNX",
      dependencies: ["Kiln", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: [.unsafeFlags(["-O"])]),
    .executableTarget(
      name: "kiln",
      dependencies: [
        "Kiln", "KilnLLVM", "KilnONNX", "CMPI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "RealModule", package: "swift-numerics"),
      ]),
    .testTarget(name: "KilnTests", dependencies: ["Kiln", "KilnRuntime"]),
    .testTarget(name: "KilnLLVMTests", dependencies: ["KilnLLVM", "Kiln"]),
    .testTarget(name: "KilnONNXTests", dependencies: ["KilnONNX", "KilnLLVM", "Kiln"], exclude: ["node-tests-passing.txt", "Fixtures"]),
    // Examples a user copies from; each is run by the tests.
    .executableTarget(name: "residual-block", dependencies: ["Kiln"], path: "examples/residual-block", exclude: ["README.md"]),
    .executableTarget(name: "transfer-learning", dependencies: ["Kiln"], path: "examples/transfer-learning", exclude: ["README.md"]),
    .executableTarget(name: "lenet-fashion-mnist", dependencies: example, path: "examples/lenet-fashion-mnist", exclude: ["README.md"]),
    .executableTarget(name: "autoencoder", dependencies: example, path: "examples/autoencoder", exclude: ["README.md", "reconstructions.png"]),
    .executableTarget(name: "video-3d", dependencies: example, path: "examples/video-3d", exclude: ["README.md"]),
    .executableTarget(name: "text-cnn", dependencies: example, path: "examples/text-cnn", exclude: ["README.md", "sentences.tsv"]),
    .executableTarget(name: "style-transfer", dependencies: example, path: "examples/style-transfer", exclude: ["README.md", "style-transfer.png"]),
    .executableTarget(name: "segmentation", dependencies: example, path: "examples/segmentation", exclude: ["README.md", "segmentation.png"]),
    .executableTarget(
      name: "onnx-import", dependencies: example + ["KilnONNX"], path: "examples/onnx-import", exclude: ["README.md", "export_models.py"]),
    .executableTarget(name: "saliency", dependencies: example, path: "examples/saliency", exclude: ["README.md", "saliency.png"]),
    .executableTarget(name: "localization", dependencies: example, path: "examples/localization", exclude: ["README.md", "localization.png"]),
    .executableTarget(name: "detection", dependencies: example, path: "examples/detection", exclude: ["README.md", "detect.c", "detection.png"]),
    .executableTarget(name: "image-filters", dependencies: example, path: "examples/image-filters", exclude: ["README.md", "image-filters.png"]),
    .executableTarget(name: "resnet-inference", dependencies: example, path: "examples/resnet-inference", exclude: ["export_resnet18.py", "README.md"]),
  ]
)
