// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "Kiln",
  platforms: [.macOS(.v14)],
  products: [
    .library(name: "Kiln", targets: ["Kiln"]),
    .executable(name: "kiln", targets: ["kiln"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
  ],
  targets: [
    // C runtime shared by JIT'd code and every exported .so: error codes, arena.
    .target(name: "KilnRuntime", path: "runtime"),
    // zlib, for the gzip-compressed IDX files of the Fashion-MNIST package.
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    .target(
      name: "Kiln",
      dependencies: ["CZlib", .product(name: "RealModule", package: "swift-numerics")]),
    .executableTarget(
      name: "kiln",
      dependencies: [
        "Kiln", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "RealModule", package: "swift-numerics"),
      ]),
    .testTarget(name: "KilnTests", dependencies: ["Kiln", "KilnRuntime"]),
    // Examples a user copies from; each is run by the tests.
    .executableTarget(name: "residual-block", dependencies: ["Kiln"], path: "examples/residual-block"),
    .executableTarget(name: "transfer-learning", dependencies: ["Kiln"], path: "examples/transfer-learning"),
  ]
)
