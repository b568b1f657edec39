import ArgumentParser
import Foundation
import StudioKit
import StudioFace
import StudioImage
import StudioStore

/// Options every store command shares.
struct StoreOptions: ParsableArguments {
    @Option(help: "Tenant (each has its own encryption key: STUDIO_KEY_<TENANT> or $STUDIO_HOME/keys/<tenant>.key).")
    var tenant: String = "default"
    @Flag(help: "Machine-readable JSON output.") var json = false

    func validate() throws {
        guard !tenant.isEmpty, tenant.count <= 64, tenant.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ValidationError("--tenant must be 1-64 letters, digits, '-' or '_'")
        }
    }
}

/// Opens the store, turning every store failure into a message and exit status 2.
func withStore<T>(_ body: (SQLiteCharacterStore) throws -> T) throws -> T {
    do {
        let store = try SQLiteCharacterStore(home: StudioPaths.fromEnvironment().home)
        return try body(store)
    } catch let e as StoreError {
        throw BadInputError("\(e.message)")
    } catch let e as RegistrationError {
        throw BadInputError("\(e.message)")
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else {
        throw BadInputError("\(path): cannot read file")
    }
    return [UInt8](d)
}

func characterJSON(_ c: CharacterRecord) throws -> String { try StudioJSON.text(c, as: .character) }

struct CharacterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "character",
        abstract: "Register, inspect and manage characters.",
        subcommands: [CharacterAdd.self, CharacterCreate.self, CharacterList.self, CharacterShow.self, CharacterRemove.self,
                      CharacterExport.self, CharacterImport.self, CharacterSearch.self])
}

struct CharacterAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a character from reference photos.",
        discussion: """
        Every reference is detected, aligned and embedded; its quality is checked (resolution, face count,
        face size, sharpness, lighting, frontality); a reference showing a different person is refused. The
        references are fused (quality-weighted) into one identity and stored encrypted with the tenant's key.
        Exit status: 0 stored, 2 refused or bad input (nothing is stored).
        """)

    @Argument(help: "The character's name (unique per tenant).") var name: String
    @Option(name: .customLong("ref"), help: "A reference image (repeat for several).") var refs: [String] = []
    @Option(help: "Use this face (detector order) when a reference has several; default: the largest.") var face: Int?
    @Flag(help: "Accept references that fail a quality check (they count little in the identity).") var allowLowQuality = false
    @Option(help: "Detector upsampling for the references.") var upsample: Int = 0
    @Flag(help: "Every quality check's measurement and every attribute's components (as in --json).") var verbose = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        guard !refs.isEmpty else { throw ValidationError("give at least one --ref IMAGE") }
        guard !name.isEmpty, name.count <= 128, !name.contains("\n") else { throw ValidationError("the name must be 1-128 characters on one line") }
    }

    func run() throws {
        let pipeline = try loadPipeline()
        var inputs: [ReferenceInput] = []
        for r in refs { inputs.append(ReferenceInput(fileName: r, bytes: try readFile(r))) }
        var options = RegistrationOptions()
        options.tenant = store.tenant; options.face = face; options.allowLowQuality = allowLowQuality; options.upsample = upsample
        let reg = try withStore { _ in
            try CharacterRegistration.prepare(name: name, references: inputs, pipeline: pipeline, options: options,
                                              id: UUID().uuidString.lowercased(), now: Int64(Date().timeIntervalSince1970))
        }
        try withStore { s in try s.add(reg.character, images: reg.images) }
        for w in reg.warnings { warn("warning: \(w)") }
        if store.json { print(try characterJSON(reg.character)); return }
        printCharacter(reg.character, heading: "added", verbose: verbose)
    }
}

/// A character at a glance: one line per reference (its failed and warned checks spelled out) and the
/// attributes on one line; `verbose` adds every check's measurement and every attribute's components.
func printCharacter(_ c: CharacterRecord, heading: String, verbose: Bool) {
    print("\(heading) \(c.name) (tenant \(c.tenant), id \(c.id)), \(c.references.count) reference\(c.references.count == 1 ? "" : "s")")
    if !c.metadata.isEmpty {
        print("  " + c.metadata.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
    }
    for (i, r) in c.references.enumerated() {
        print("  reference \(i + 1): \(r.fileName) \(r.width)x\(r.height), weight \(fmt(r.quality.weight, 2)), distance to identity \(fmt(r.face.descriptor.distance(to: c.identity), 3)); "
              + checksSummary(r.quality.checks))
        guard verbose else { continue }
        for q in r.quality.checks {
            print("    \(q.verdict.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(q.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(fmt(q.value, 3)) (\(q.rule) \(fmt(q.threshold, 3)))  \(q.detail)")
        }
    }
    let items = c.attributes.items.sorted(by: { $0.key < $1.key })
    guard verbose else {
        print("  attributes: " + items.map { "\($0.key) \($0.value.label)" }.joined(separator: ", "))
        return
    }
    print("  attributes:")
    for (k, a) in items {
        let vals = zip(a.components, a.values).map { "\($0)=\(fmt($1, 2))" }.joined(separator: " ")
        print("    \(k): \(a.label) [\(vals)] — measured in \(a.region)")
    }
}

/// "all 7 checks pass", or the ones that did not: "warn sharpness 1.900 (>= 3.500), fail lighting ...".
func checksSummary(_ checks: [QualityCheck]) -> String {
    let off = checks.filter { $0.verdict != .pass }.sorted { $0.verdict > $1.verdict }
    guard !off.isEmpty else { return "all \(checks.count) checks pass" }
    return off.map { "\($0.verdict.rawValue) \($0.name) \(fmt($0.value, 3)) (pass \($0.rule) \(fmt($0.threshold, 3)))" }.joined(separator: ", ")
        + "; the other \(checks.count - off.count) pass"
}

struct CharacterList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List characters.")
    @Flag(help: "List every tenant's characters.") var allTenants = false
    @OptionGroup var store: StoreOptions
    func run() throws {
        let rows = try withStore { try $0.list(tenant: allTenants ? nil : store.tenant) }
        if store.json {
            print(try StudioJSON.text(list: rows, key: "characters", as: .characterList)); return
        }
        if rows.isEmpty { print("no characters"); return }
        for r in rows { print("\(r.name)  tenant \(r.tenant)  \(r.referenceCount) reference(s)  id \(r.id)") }
    }
}

struct CharacterShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a character: references, quality, attributes.")
    @Argument var name: String
    @Flag(help: "Every quality check's measurement and every attribute's components (as in --json).") var verbose = false
    @OptionGroup var store: StoreOptions
    func run() throws {
        let c = try withStore { try $0.character(named: name, tenant: store.tenant) }
        if store.json { print(try characterJSON(c)) } else { printCharacter(c, heading: "character", verbose: verbose) }
    }
}

struct CharacterRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a character and its stored references.")
    @Argument var name: String
    @OptionGroup var store: StoreOptions
    func run() throws {
        try withStore { try $0.remove(named: name, tenant: store.tenant) }
        if store.json { print(JSON.document(.characterRemoved, [("removed", JSON.string(name)), ("tenant", JSON.string(store.tenant))])) } else { print("removed \(name)") }
    }
}

struct CharacterExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a character (with its reference images) to one file, sealed with the tenant key.")
    @Argument var name: String
    @Argument var file: String
    @OptionGroup var store: StoreOptions
    func run() throws {
        let bytes = try withStore { try $0.export(named: name, tenant: store.tenant) }
        do { try Data(bytes).write(to: URL(fileURLWithPath: file), options: .atomic) } catch {
            throw BadInputError("\(file): cannot write: \(error.localizedDescription)")
        }
        if store.json { print(JSON.document(.characterExported, [("exported", JSON.string(name)), ("file", JSON.string(file)), ("bytes", String(bytes.count))])) }
        else { print("exported \(name) to \(file) (\(bytes.count) bytes)") }
    }
}

struct CharacterImport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Add a character from an export file.")
    @Argument var file: String
    @OptionGroup var store: StoreOptions
    func run() throws {
        let bytes = try readFile(file)
        let c = try withStore { try $0.importCharacter(bytes, tenant: store.tenant) }
        if store.json { print(try characterJSON(c)) } else { print("imported \(c.name) (tenant \(c.tenant)), \(c.references.count) reference(s)") }
    }
}

struct CharacterSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Find the stored characters nearest to the (largest) face in an image.")
    @Argument var image: String
    @Option(help: "How many characters to list.") var top: Int = 5
    @Flag(help: "Search every tenant.") var allTenants = false
    @OptionGroup var store: StoreOptions
    func run() throws {
        let pipeline = try loadPipeline()
        let img = try readImage(image)
        guard let face = pipeline.faces(in: img, upsample: 0, detectionMaxSide: 800).max(by: { $0.box.area < $1.box.area }) else {
            throw BadInputError("\(image): no face found")
        }
        let hits = try withStore { try $0.nearest(to: face.descriptor, tenant: allTenants ? nil : store.tenant, top: max(1, top)) }
        if store.json {
            print(try StudioJSON.text(list: hits, key: "matches", as: .characterSearch)); return
        }
        if hits.isEmpty { print("no characters stored"); return }
        for (i, h) in hits.enumerated() {
            print("\(i + 1). \(h.name) (tenant \(h.tenant))  distance \(fmt(h.distance, 3))  cosine \(fmt(h.cosineSimilarity, 3))  \(h.distance < FaceDescriptor.sameIdentityDistance ? "same person" : "different")")
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every face in images against a character.",
        discussion: """
        For each face: distance and cosine similarity to the character's fused identity, the closest
        reference, and the verdict (pass when the distance is below --threshold). An image without a face
        fails. Exit status: 0 all faces pass, 1 any fails, 2 bad input (unknown character, unreadable file).
        """)
    @Option(help: "The character to check against.") var character: String
    @Argument(help: "Images to check.") var files: [String]
    @Option(help: "Distance below which a face is the character.") var threshold: Double = FaceDescriptor.sameIdentityDistance
    @Option(help: "Write a contact sheet PNG: references and candidates with their scores.") var sheet: String?
    @Option(help: "Detector upsampling.") var upsample: Int = 1
    @OptionGroup var store: StoreOptions

    func run() throws {
        let pipeline = try loadPipeline()
        let (c, refImages) = try withStore { s -> (CharacterRecord, [RGBImage?]) in
            let c = try s.character(named: character, tenant: store.tenant)
            return (c, sheet == nil ? [] : referenceImages(c, store: s))
        }
        var images: [(String, RGBImage)] = []
        for f in files {
            let img = try readImage(f)
            images.append((f, img))
        }
        var allPass = true
        var jsonRows: [String] = []
        var tiles: [ContactSheet.Tile] = []
        for (f, img) in images {
            let plan = pipeline.detectionPlan(for: img, upsample: upsample, detectionMaxSide: 1600)
            if let note = workingSizeNote(f, img, plan) { warn("studio: " + note) }
            let faces = pipeline.faces(in: img, upsample: upsample, detectionMaxSide: 1600)
            let verdicts = IdentityVerifier.verdicts(faces: faces, character: c, threshold: threshold)
            if verdicts.isEmpty || verdicts.contains(where: { !$0.pass }) { allPass = false }
            if store.json {
                let fv = verdicts.map { v in
                    JSON.object([("face", String(v.face)), ("box", JSON.array([v.box.left, v.box.top, v.box.right, v.box.bottom].map(String.init))),
                                 ("distance", JSON.number(v.distance)), ("cosine_similarity", JSON.number(v.cosineSimilarity)),
                                 ("closest_reference", JSON.string(v.closestReference)),
                                 ("closest_reference_distance", JSON.number(v.closestReferenceDistance)),
                                 ("verdict", JSON.string(v.pass ? "pass" : "fail"))])
                }
                jsonRows.append(JSON.object([("file", JSON.string(f)), ("faces", JSON.array(fv)),
                                             ("verdict", JSON.string(!verdicts.isEmpty && verdicts.allSatisfy(\.pass) ? "pass" : (verdicts.isEmpty ? "no_face" : "fail")))]))
            } else if verdicts.isEmpty {
                print("\(f): no face found — FAIL")
            } else {
                for v in verdicts {
                    print("\(f) face \(v.face): distance \(fmt(v.distance, 3)) cosine \(fmt(v.cosineSimilarity, 3)) closest reference \(v.closestReference) (\(fmt(v.closestReferenceDistance, 3))) — \(v.pass ? "PASS" : "FAIL")")
                }
            }
            if sheet != nil {
                if verdicts.isEmpty {
                    tiles.append(.init(image: img, captions: ["NO FACE", "FAIL"], colour: .fail))
                }
                for v in verdicts {
                    tiles.append(.init(image: img, box: v.box, captions: [v.pass ? "PASS" : "FAIL", "D \(fmt(v.distance, 3))", "COS \(fmt(v.cosineSimilarity, 3))",
                                                                     String((f as NSString).lastPathComponent.prefix(24))],
                                       colour: v.pass ? .pass : .fail))
                }
            }
        }
        if store.json {
            print(JSON.document(.verify, [("character", JSON.string(c.name)), ("tenant", JSON.string(c.tenant)), ("threshold", JSON.number(threshold)),
                                          ("results", JSON.array(jsonRows)), ("all_pass", JSON.bool(allPass))]))
        }
        if let out = sheet {
            let png = ContactSheet.render(rows: [referenceRow(c, images: refImages),
                                                 (title: "CANDIDATES (THRESHOLD \(fmt(threshold, 2)))", tiles: tiles)])
            do { try ImageIO.writePNG(png, to: out) } catch { throw BadInputError("\(error)") }
            if !store.json { print("contact sheet: \(out)") }
        }
        if !allPass { throw ExitCode(1) }
    }
}

/// The character's reference images from the store, decoded (nil where one cannot be read).
func referenceImages(_ c: CharacterRecord, store s: SQLiteCharacterStore) -> [RGBImage?] {
    c.references.map { r in (try? s.image(sha256: r.sha256)).flatMap { try? ImageIO.decode($0, name: r.fileName) } }
}

/// The character's references as a contact-sheet row: each face boxed, its distance to the identity,
/// the file name; the first row of every sheet, so outputs are compared with them by eye.
func referenceRow(_ c: CharacterRecord, images: [RGBImage?]) -> (title: String, tiles: [ContactSheet.Tile]) {
    let tiles = zip(c.references, images).map { r, img in
        ContactSheet.Tile(image: img ?? RGBImage(width: 1, height: 1), box: r.face.box,
                          captions: ["REF", "D \(fmt(r.face.descriptor.distance(to: c.identity), 3))", String((r.fileName as NSString).lastPathComponent.prefix(24))],
                          colour: .grey)
    }
    return (title: "\(c.name.uppercased()) REFERENCES", tiles: tiles)
}
