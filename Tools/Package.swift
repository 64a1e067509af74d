// swift-tools-version:6.2
// Builds the protoc plugins from the exact versions the main package pins; used by scripts/generate-protos.
import PackageDescription

let package = Package(
    name: "switchboard-tools",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
    ]
)
