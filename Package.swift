// swift-tools-version: 6.0
import PackageDescription

// MARK: - Shared settings

/// Every Swift target builds in Swift 6 language mode (set package-wide below).
let swiftSettings: [SwiftSetting] = []

let package = Package(
    name: "studio",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "studio", targets: ["studio"]),
        .library(name: "StudioKit", targets: ["StudioKit"]),
        .library(name: "StudioFace", targets: ["StudioFace"]),
        .library(name: "AdapterSDK", targets: ["AdapterSDK"]),
        // Adapters: one dynamic library each, loaded with dlopen (lib<Name>Adapter.so).
        .library(name: "ReplicateInstantIDAdapter", type: .dynamic, targets: ["ReplicateInstantIDAdapter"]),
        // Test fixture only: crashes on purpose (out-of-process isolation tests). Its file name does not
        // end in "Adapter.so", so discovery never offers it.
        .library(name: "CrashTestFixture", type: .dynamic, targets: ["CrashTestAdapter"]),
        .library(name: "ReplicateFluxPuLIDAdapter", type: .dynamic, targets: ["ReplicateFluxPuLIDAdapter"]),
        .library(name: "RunwayGen4Adapter", type: .dynamic, targets: ["RunwayGen4Adapter"]),
        .library(name: "ExampleCAdapter", type: .dynamic, targets: ["ExampleCAdapter"]),
        .library(name: "ReplicatePhotoMakerAdapter", type: .dynamic, targets: ["ReplicatePhotoMakerAdapter"]),
        .library(name: "StabilitySD3Adapter", type: .dynamic, targets: ["StabilitySD3Adapter"]),
        .library(name: "FalKlingI2VAdapter", type: .dynamic, targets: ["FalKlingI2VAdapter"]),
        .library(name: "KlingImage2VideoAdapter", type: .dynamic, targets: ["KlingImage2VideoAdapter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // MARK: - C libraries (Debian packages)
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CJSON", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        // libjpeg and libpng report errors with longjmp, which Swift cannot use: a small C shim owns
        // the setjmp for decoding (libpng's simplified API gamma-converts, so decoding uses the full API).
        .target(name: "CStudioCodecs", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        // libcurl's curl_easy_setopt is variadic (unavailable from Swift): a typed shim with its callbacks in C.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),

        // MARK: - Core and engines
        .target(name: "StudioKit", swiftSettings: swiftSettings),
        .target(name: "StudioTensor", dependencies: ["CBLAS"], swiftSettings: swiftSettings),
        .target(name: "StudioImage", dependencies: ["StudioKit", "CPNG", "CStudioCodecs"], swiftSettings: swiftSettings),
        .target(
            name: "StudioFace",
            dependencies: ["StudioKit", "StudioTensor", "StudioImage", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(name: "StudioLocal", dependencies: ["StudioKit", "StudioTensor", "StudioImage", "StudioFace"], swiftSettings: swiftSettings),
        .target(
            name: "StudioStore",
            dependencies: ["StudioKit", "CSQLite", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // MARK: - Network (the host's HTTP client for remote-API adapters)
        .target(name: "StudioNet", dependencies: ["CCurl", "AdapterSDK"], swiftSettings: swiftSettings),

        // MARK: - Adapter platform
        // The C ABI (one header), the SDK an adapter author imports, and the host side that loads them.
        .target(name: "CStudioAdapter"),
        .target(name: "AdapterSDK", dependencies: ["CStudioAdapter"], swiftSettings: swiftSettings),
        .target(name: "StudioAdapterHost", dependencies: ["CStudioAdapter", "AdapterSDK", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),
        .target(name: "ReplicateInstantIDAdapter", dependencies: ["AdapterSDK"], path: "adapters/replicate-instantid",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "CrashTestAdapter", dependencies: ["AdapterSDK"], path: "adapters/test-crash", swiftSettings: swiftSettings),
        .target(name: "ReplicateFluxPuLIDAdapter", dependencies: ["AdapterSDK"], path: "adapters/replicate-flux-pulid",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "RunwayGen4Adapter", dependencies: ["AdapterSDK"], path: "adapters/runway-gen4",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // An adapter written in C (json-c), against the header alone: the ABI is language-neutral.
        .target(name: "ExampleCAdapter", dependencies: ["CStudioAdapter", "CJSON"], path: "adapters/example-c",
                exclude: ["README.md"]),
        .target(name: "ReplicatePhotoMakerAdapter", dependencies: ["AdapterSDK"], path: "adapters/replicate-photomaker",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "StabilitySD3Adapter", dependencies: ["AdapterSDK"], path: "adapters/stability-sd3",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        // Video adapters: Kling image-to-video on fal's queue, and Kling's official API (JWT signed by the host).
        .target(name: "FalKlingI2VAdapter", dependencies: ["AdapterSDK"], path: "adapters/fal-kling-i2v",
                exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "KlingImage2VideoAdapter", dependencies: ["AdapterSDK"], path: "adapters/kling-image2video",
                exclude: ["README.md"], swiftSettings: swiftSettings),

        // MARK: - CLI
        .executableTarget(
            name: "studio",
            dependencies: [
                "StudioKit", "StudioTensor", "StudioImage", "StudioFace", "StudioStore", "StudioLocal", "StudioAdapterHost", "AdapterSDK",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: - Tests
        .testTarget(name: "StudioKitTests", dependencies: ["StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioTensorTests", dependencies: ["StudioTensor", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioImageTests", dependencies: ["StudioImage", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StudioFaceTests",
            dependencies: ["StudioFace", "StudioImage", "StudioTensor", "StudioKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "StudioCLITests", dependencies: ["studio"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioStoreTests", dependencies: ["StudioStore", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "AdapterTests", dependencies: ["StudioAdapterHost", "AdapterSDK", "CStudioAdapter"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioNetTests", dependencies: ["StudioNet"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioLocalTests", dependencies: ["StudioLocal", "StudioTensor", "StudioKit"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
