// swift-tools-version: 6.0
import PackageDescription
import Foundation

// MARK: - Shared settings

/// Every Swift target builds in Swift 6 language mode (set package-wide below).
let swiftSettings: [SwiftSetting] = []

// MARK: - Adapters, discovered

/// Every directory under adapters/ (but test-crash, a fixture declared below) is one adapter: a dynamic
/// library `lib<Name>Adapter.so`, Name being the directory name in UpperCamelCase ("replicate-instantid"
/// -> ReplicateInstantIDAdapter; the spellings below keep product names readable). A directory with C
/// sources is a C adapter (CStudioAdapter + json-c); otherwise a Swift one on AdapterSDK. An adapter's
/// `Tests/` folder, when present, is its own test target `<Name>AdapterTests`. So `new-adapter` (Plugins/
/// NewAdapter) only writes files under adapters/<name>: nothing here needs editing.
let adapterSpellings = ["instantid": "InstantID", "pulid": "PuLID", "photomaker": "PhotoMaker", "sd3": "SD3", "i2v": "I2V",
                        "image2video": "Image2Video"]
let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let adapterDirectories: [String] = {
    let root = packageDirectory.appendingPathComponent("adapters")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
    return names.sorted().filter { name in
        var isDir: ObjCBool = false
        return name != "test-crash" && !name.hasPrefix(".")
            && FileManager.default.fileExists(atPath: root.appendingPathComponent(name).path, isDirectory: &isDir) && isDir.boolValue
    }
}()

func adapterModuleName(_ directory: String) -> String {
    directory.split(separator: "-").map { w in adapterSpellings[String(w)] ?? (w.prefix(1).uppercased() + w.dropFirst()) }.joined() + "Adapter"
}

func adapterFiles(_ directory: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: packageDirectory.appendingPathComponent("adapters/" + directory).path)) ?? []
}

let adapterProducts: [Product] = adapterDirectories.map { .library(name: adapterModuleName($0), type: .dynamic, targets: [adapterModuleName($0)]) }

let adapterTargets: [Target] = adapterDirectories.flatMap { dir -> [Target] in
    let name = adapterModuleName(dir)
    let files = adapterFiles(dir)
    let hasTests = files.contains("Tests")
    var exclude = files.filter { $0.hasSuffix(".md") }
    if hasTests { exclude.append("Tests") }
    let library: Target = files.contains(where: { $0.hasSuffix(".c") })
        ? .target(name: name, dependencies: ["CStudioAdapter", "CJSON"], path: "adapters/" + dir, exclude: exclude)
        : .target(name: name, dependencies: ["AdapterSDK"], path: "adapters/" + dir, exclude: exclude, swiftSettings: swiftSettings)
    guard hasTests else { return [library] }
    // The tests load lib<Name>Adapter.so as the host does rather than linking the module: every adapter
    // exports the same C symbol, studio_adapter_v1, so two linked into the one test binary would clash.
    return [library, .testTarget(name: name + "Tests", dependencies: ["StudioAdapterHost", "AdapterSDK", "ProviderContracts"],
                                 path: "adapters/" + dir + "/Tests", swiftSettings: swiftSettings)]
}

let package = Package(
    name: "studio",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "studio", targets: ["studio"]),
        .library(name: "StudioKit", targets: ["StudioKit"]),
        .library(name: "StudioFace", targets: ["StudioFace"]),
        .library(name: "AdapterSDK", targets: ["AdapterSDK"]),
        // Test fixture only: crashes on purpose (out-of-process isolation tests). Its file name does not
        // end in "Adapter.so", so discovery never offers it.
        .library(name: "CrashTestFixture", type: .dynamic, targets: ["CrashTestAdapter"]),
    ] + adapterProducts,
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
        // Vector kernels in C: Swift code builds for baseline x86-64 (no AVX2/FMA); these check the CPU at run time.
        .target(name: "CStudioKernels"),
        .target(name: "StudioTensor", dependencies: ["CBLAS", "CStudioKernels"], swiftSettings: swiftSettings),
        .target(name: "StudioImage", dependencies: ["StudioKit", "CPNG", "CStudioCodecs"], swiftSettings: swiftSettings),
        .target(
            name: "StudioFace",
            dependencies: ["StudioKit", "StudioTensor", "StudioImage", "CStudioKernels", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(name: "StudioLocal", dependencies: ["StudioKit", "StudioTensor", "StudioImage", "StudioFace"], swiftSettings: swiftSettings),
        // Latent diffusion from users' own weights (safetensors), natively.
        .target(name: "StudioDiffusion", dependencies: ["StudioKit", "StudioTensor"], swiftSettings: swiftSettings),
        .target(
            name: "StudioStore",
            dependencies: ["StudioKit", "CSQLite", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // MARK: - Network (the host's HTTP client for remote-API adapters)
        .target(name: "StudioNet", dependencies: ["CCurl"], swiftSettings: swiftSettings),

        // MARK: - Adapter platform
        // The C ABI (one header), the SDK an adapter author imports, and the host side that loads them.
        .target(name: "CStudioAdapter"),
        .target(name: "AdapterSDK", dependencies: ["CStudioAdapter"], swiftSettings: swiftSettings),
        .target(name: "StudioAdapterHost", dependencies: ["CStudioAdapter", "AdapterSDK", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),
        .target(name: "CrashTestAdapter", dependencies: ["AdapterSDK"], path: "adapters/test-crash", swiftSettings: swiftSettings),

        // MARK: - Provider contracts
        // Each provider endpoint's published request contract as data (contracts/*.json, with sources), and
        // the one validator that emulators, adapter tests and `studio adapters check` hold requests to.
        .target(name: "ProviderContracts", dependencies: ["AdapterSDK"], resources: [.copy("contracts")], swiftSettings: swiftSettings),

        // MARK: - Remote backends and their emulators
        // The host side of sending: credentials, routing, polling, downloads, the run journal.
        .target(name: "StudioRemote", dependencies: ["StudioKit", "StudioImage", "StudioNet", "StudioAdapterHost", "AdapterSDK"],
                swiftSettings: swiftSettings),
        // Loopback servers speaking each provider's schema, generating with the local backend through the surface only.
        .target(name: "StudioEmulator", dependencies: ["StudioKit", "StudioImage", "StudioFace", "StudioLocal", "AdapterSDK", "ProviderContracts", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),

        // MARK: - CLI
        .executableTarget(
            name: "studio",
            dependencies: [
                "StudioKit", "StudioTensor", "StudioImage", "StudioFace", "StudioStore", "StudioLocal", "StudioDiffusion", "StudioAdapterHost", "AdapterSDK",
                "StudioNet", "StudioRemote", "StudioEmulator", "ProviderContracts", "CStudioAdapter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings,
            plugins: ["BuildInfo"]
        ),

        // MARK: - Plugins
        // `swift package --allow-writing-to-package-directory new-adapter --name <name>`: scaffolds adapters/<name>/.
        .plugin(name: "BuildInfo", capability: .buildTool(), path: "Plugins/BuildInfo"),
        .plugin(
            name: "NewAdapter",
            capability: .command(
                intent: .custom(verb: "new-adapter", description: "Scaffold a working Swift adapter, its README and a golden-request test in adapters/<name>/"),
                permissions: [.writeToPackageDirectory(reason: "new-adapter writes the new adapter's files under adapters/<name>/, and nothing else")]
            ),
            path: "Plugins/NewAdapter"
        ),

        // MARK: - Tests
        .testTarget(name: "StudioKitTests", dependencies: ["StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioTensorTests", dependencies: ["StudioTensor", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioDiffusionTests", dependencies: ["StudioDiffusion", "StudioKit"], swiftSettings: swiftSettings),
        // Builders the tests share (PNG files byte by byte, CRC-32); only test targets depend on it.
        .target(name: "StudioTestSupport", path: "Tests/StudioTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "StudioImageTests", dependencies: ["StudioImage", "StudioKit", "StudioTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "StudioFaceTests",
            dependencies: ["StudioFace", "StudioImage", "StudioTensor", "StudioKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "StudioCLITests", dependencies: ["studio", "StudioEmulator", "StudioKit", "StudioImage", "StudioTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioStoreTests", dependencies: ["StudioStore", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "AdapterTests", dependencies: ["StudioAdapterHost", "AdapterSDK", "CStudioAdapter", "ProviderContracts"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioNetTests", dependencies: ["StudioNet", "StudioEmulator", "StudioKit"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioRemoteTests", dependencies: ["StudioRemote", "StudioEmulator", "StudioNet", "StudioAdapterHost", "AdapterSDK", "StudioKit", "StudioImage"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "ProviderContractsTests", dependencies: ["ProviderContracts", "AdapterSDK"], swiftSettings: swiftSettings),
        .testTarget(name: "StudioEmulatorTests", dependencies: ["StudioEmulator", "ProviderContracts", "StudioNet", "AdapterSDK", "StudioKit", "StudioImage", "StudioFace", "StudioLocal", .product(name: "Crypto", package: "swift-crypto")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "StudioLocalTests", dependencies: ["StudioLocal", "StudioTensor", "StudioKit"], swiftSettings: swiftSettings),
    ] + adapterTargets,
    swiftLanguageModes: [.v6]
)
