import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory new-adapter --name <name> [--provider <provider>]`
///
/// Writes a complete, working Swift adapter into `adapters/<name>/` (the adapter, its README and a
/// golden-request test) and nothing anywhere else: Package.swift discovers every directory under
/// adapters/ by itself. The texts written live in Templates.swift.
@main
struct NewAdapter: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var extractor = ArgumentExtractor(arguments)
        if extractor.extractFlag(named: "help") > 0 || extractor.extractFlag(named: "h") > 0 {
            print(Scaffold.usage)
            return
        }
        let names = extractor.extractOption(named: "name")
        let providers = extractor.extractOption(named: "provider")
        // Whatever is left was not understood; refusing beats guessing.
        let unknown = extractor.remainingArguments
        guard unknown.isEmpty else { throw ScaffoldError("unexpected argument(s): \(unknown.joined(separator: " "))") }
        guard names.count <= 1, providers.count <= 1 else { throw ScaffoldError("--name and --provider may each be given once") }
        guard let name = names.first else { throw ScaffoldError("--name is required (the adapter's directory under adapters/, e.g. --name replicate-mymodel)") }

        let adapters = context.package.directoryURL.appendingPathComponent("adapters")
        // The package's targets, plus those of every directory under adapters/ computed here: the package
        // description may come from SwiftPM's manifest cache, which predates directories added since.
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: adapters.path)) ?? []
        let existingTargets = Set(context.package.targets.map(\.name))
            .union(listing.flatMap { [Scaffold.typeName(for: $0) + "Adapter", Scaffold.typeName(for: $0) + "AdapterTests"] })
        let plan = try Scaffold(name: name, provider: providers.first ?? "replicate", adapters: adapters, existingTargets: existingTargets)
        let written = try plan.write(into: adapters)
        print("new-adapter: wrote adapters/\(name)/ (\(written.joined(separator: ", ")))")
        // SwiftPM caches the evaluated Package.swift keyed on its text, and Package.swift finds adapters by
        // listing adapters/: until its text changes, a cached evaluation does not know the new directory.
        print("""
            new-adapter: next steps, from the package root (--manifest-cache none: SwiftPM's cached reading of
            Package.swift predates adapters/\(name); see adapters/\(name)/README.md):
              swift build -c release --manifest-cache none --product \(plan.moduleName)
              swift build -c release --manifest-cache none --product studio
              .build/release/studio adapters check .build/release/lib\(plan.moduleName).so
              swift test --manifest-cache none --filter \(plan.moduleName)Tests
            then follow the TODO(author) comments in adapters/\(name)/\(plan.typeName).swift (adapters/\(name)/README.md explains each part)
            """)
    }
}

struct ScaffoldError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = "new-adapter: " + message }
}

/// The names derived from `--name`, checked, and the files they give.
struct Scaffold {
    static let usage = """
        USAGE: swift package --allow-writing-to-package-directory new-adapter --name <name> [--provider <provider>]

        Scaffolds adapters/<name>/: <Type>.swift (a working Replicate-style adapter on AdapterSDK, with
        TODO(author) comments where it meets your API), README.md, and Tests/<Type>GoldenRequestTests.swift
        (golden-request and parsing tests). Nothing else in the package is touched.

          --name      lower-case letters, digits and '-', starting with a letter, at most 40 characters;
                      the manifest name, the directory, and the product <Name>Adapter (foo-bar -> FooBarAdapter)
          --provider  the manifest's provider (default: replicate), same spelling rules
        """

    /// Word spellings Package.swift uses for product names (`adapterSpellings` there): the module
    /// name computed here must be the one Package.swift gives the directory, so keep the two equal.
    static let spellings = ["instantid": "InstantID", "pulid": "PuLID", "photomaker": "PhotoMaker", "sd3": "SD3", "i2v": "I2V",
                            "image2video": "Image2Video"]
    /// Names Swift reserves for itself, which a type may not take.
    static let reservedTypeNames: Set<String> = ["Any", "Self", "Type", "Protocol", "Sendable", "Error"]

    let name: String
    let provider: String
    /// UpperCamelCase of the name ("replicate-my-model" -> ReplicateMyModel): the adapter's type.
    let typeName: String
    /// `<typeName>Adapter`: the Swift module, target and product Package.swift derives from the directory.
    let moduleName: String

    /// Checks, in this order: the spellings, that adapters/<name> does not exist, that the Swift names are free.
    init(name: String, provider: String, adapters: URL, existingTargets: Set<String>) throws {
        try Self.checkSpelling(name, what: "--name")
        try Self.checkSpelling(provider, what: "--provider")
        try Self.checkAbsent(adapters.appendingPathComponent(name), name: name)
        guard name != "test-crash" else { throw ScaffoldError("adapters/test-crash is reserved for the crash-isolation test fixture") }
        self.name = name
        self.provider = provider
        typeName = Self.typeName(for: name)
        moduleName = typeName + "Adapter"
        // The type must not hide a name the template's own code uses (an adapter named "string" would
        // make `enum String`), nor a module, nor a target the package already has.
        if Self.reservedTypeNames.contains(typeName) || Templates.identifiersUsed.contains(typeName) {
            throw ScaffoldError("--name \(name) would name the adapter's type \(typeName), which Swift or the template already uses; pick another name")
        }
        for target in [moduleName, moduleName + "Tests"] where existingTargets.contains(target) {
            throw ScaffoldError("--name \(name) would add target \(target), which the package already has; pick another name")
        }
    }

    /// "replicate-instantid" -> "ReplicateInstantID", as Package.swift's adapterModuleName without "Adapter".
    static func typeName(for directory: String) -> String {
        directory.split(separator: "-").map { w in spellings[String(w)] ?? (w.prefix(1).uppercased() + w.dropFirst()) }.joined()
    }

    static func checkSpelling(_ value: String, what: String) throws {
        let allowed = value.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard let first = value.unicodeScalars.first, ("a"..."z").contains(first), allowed, value.count <= 40 else {
            throw ScaffoldError("\(what) '\(value)' must be lower-case letters, digits and '-', start with a letter, and be at most 40 characters")
        }
        // "foo-" and "foo--bar" would give the same Swift names as "foo" and "foo-bar".
        guard !value.hasSuffix("-"), !value.contains("--") else {
            throw ScaffoldError("\(what) '\(value)' may not end with '-' or contain '--'")
        }
    }

    static func checkAbsent(_ dir: URL, name: String) throws {
        if FileManager.default.fileExists(atPath: dir.path) {
            throw ScaffoldError("adapters/\(name) exists already; choose another --name or remove it first (nothing was written)")
        }
    }

    /// The files, relative to adapters/<name>/, with the placeholders filled in.
    var files: [(path: String, text: String)] {
        let values = ["NAME": name, "PROVIDER": provider, "TYPE": typeName, "MODULE": moduleName,
                      "PROVIDER_NOTE": provider == "replicate" ? "" : Templates.otherProviderNote]
        func fill(_ template: String) -> String {
            var text = template
            // PROVIDER_NOTE first: it holds placeholders of its own.
            for key in ["PROVIDER_NOTE", "NAME", "PROVIDER", "TYPE", "MODULE"] { text = text.replacingOccurrences(of: "{{\(key)}}", with: values[key]!) }
            return text
        }
        return [(typeName + ".swift", fill(Templates.adapter)),
                ("README.md", fill(Templates.readme)),
                ("Tests/\(typeName)GoldenRequestTests.swift", fill(Templates.test))]
    }

    /// Creates `adapters/<name>/` and its files; refuses when the directory exists already. Returns
    /// the paths written. On a failure half-way, the directory it created is removed again.
    func write(into adapters: URL) throws -> [String] {
        let fm = FileManager.default
        let dir = adapters.appendingPathComponent(name)
        try Self.checkAbsent(dir, name: name)
        try fm.createDirectory(at: adapters, withIntermediateDirectories: true)
        do {
            // Not intermediate: if another process made it since the check above, this fails instead of mixing files in.
            try fm.createDirectory(at: dir, withIntermediateDirectories: false)
        } catch {
            throw ScaffoldError("could not create adapters/\(name): \(error.localizedDescription)")
        }
        do {
            for file in files {
                let url = dir.appendingPathComponent(file.path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(file.text.utf8).write(to: url, options: .withoutOverwriting)
            }
        } catch {
            try? fm.removeItem(at: dir)
            throw ScaffoldError("writing adapters/\(name) failed, nothing kept: \(error.localizedDescription)")
        }
        return files.map(\.path)
    }
}
