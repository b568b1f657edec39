import XCTest
import StudioKit
@testable import StudioLocal

/// Directions with the given held-out r (default 0.9 for the five standard ones); the vectors are
/// coordinate axes, enough for the parser, which only reads names and r.
func syntheticDirections(_ r: [String: Double] = [:], leaving out: Set<String> = []) -> [LatentDirection] {
    LatentDirections.standard.enumerated().compactMap { k, s in
        guard !out.contains(s.name) else { return nil }
        var v = [Float](repeating: 0, count: DCGANGenerator.latentDimension)
        v[k] = 1
        return LatentDirection(name: s.name, measure: s.measure, unit: s.unit, vector: v, slope: 1,
                               heldOutCorrelation: r[s.name] ?? 0.9, samples: 100, populationMean: 0, populationStd: 1)
    }
}

final class VocabularyTests: XCTestCase {
    let dirs = syntheticDirections()

    func parse(_ s: String) -> ParsedPrompt { PromptVocabulary.parse(s, directions: dirs) }

    func testSynonymsGiveTheSameTerm() {
        for p in ["close-up", "closeup", "close up", "zoomed in", "tight framing", "closer"] {
            let r = parse(p)
            XCTAssertEqual(r.terms.map(\.direction), ["framing"], p)
            XCTAssertEqual(r.terms.first?.sign, 1, p)
            XCTAssertEqual(r.terms.first?.amount, PromptVocabulary.defaultAmount, p)
            XCTAssertEqual(r.ignored, [], p)
        }
        for p in ["dimmer", "darker", "dim lighting", "low light", "dimly lit", "low-key lighting"] {
            XCTAssertEqual(parse(p).terms.map { "\($0.direction) \($0.sign)" }, ["brightness -1.0"], p)
        }
        for p in ["cooler", "cool tones", "bluish", "cold light"] {
            XCTAssertEqual(parse(p).terms.map { "\($0.direction) \($0.sign)" }, ["warmth -1.0"], p)
        }
        for p in ["turned left", "looking to the left", "head turned towards the left", "facing left", "left profile"] {
            XCTAssertEqual(parse(p).terms.map { "\($0.direction) \($0.sign)" }, ["yaw -1.0"], p)
        }
        for p in ["lit from the right", "light coming from the right", "right lighting", "key light on the right"] {
            XCTAssertEqual(parse(p).terms.map { "\($0.direction) \($0.sign)" }, ["light_side -1.0"], p)
        }
    }

    /// "turned left" is the head, "lit from the left" the light: longest phrase first keeps them apart.
    func testLeftAndRightAreImageSidesForPoseAndLight() {
        let r = parse("head turned right, lit from the left")
        XCTAssertEqual(r.terms, [
            PromptTerm(phrase: "head turned right", direction: "yaw", sign: 1, amount: 1.5),
            PromptTerm(phrase: "lit from the left", direction: "light_side", sign: 1, amount: 1.5),
        ])
        XCTAssertEqual(r.ignored, [])
        XCTAssertEqual(r.conflicts, [])
    }

    func testModifiersSetTheAmount() {
        XCTAssertEqual(parse("slightly warmer").terms, [PromptTerm(phrase: "slightly warmer", direction: "warmth", sign: 1, amount: 0.75)])
        XCTAssertEqual(parse("very dim lighting").terms, [PromptTerm(phrase: "very dim lighting", direction: "brightness", sign: -1, amount: 2.5)])
        XCTAssertEqual(parse("a little bit cooler").terms.first?.amount, 0.75)
        XCTAssertEqual(parse("strongly lit from the right").terms.first?.amount, 2.5)
        // A modifier inside the phrase.
        XCTAssertEqual(parse("head turned slightly to the left").terms,
                       [PromptTerm(phrase: "head turned slightly to the left", direction: "yaw", sign: -1, amount: 0.75)])
        XCTAssertEqual(parse("turned very right").terms.first?.amount, 2.5)
        XCTAssertEqual(parse("much closer").terms, [PromptTerm(phrase: "much closer", direction: "framing", sign: 1, amount: 2.5)])
        // A modifier with nothing to modify is an ignored word like any other.
        let r = parse("a very old man")
        XCTAssertEqual(r.terms, [])
        XCTAssertEqual(r.ignored, ["very", "old", "man"])
    }

    func testConflictingTermsTheLaterWins() {
        let r = parse("turned left, warmer, then turned right")
        XCTAssertEqual(r.terms.map(\.phrase), ["warmer", "turned right"])
        XCTAssertEqual(r.terms.last?.sign, 1)
        XCTAssertEqual(r.conflicts.count, 1)
        XCTAssertTrue(r.conflicts[0].contains("\"turned left\"") && r.conflicts[0].contains("\"turned right\"")
                      && r.conflicts[0].contains("later"), r.conflicts[0])
        XCTAssertEqual(r.ignored, ["then"])
        // The same direction twice with the same sign: still one term, the later amount.
        let s = parse("brighter, very brightly lit")
        XCTAssertEqual(s.terms, [PromptTerm(phrase: "very brightly lit", direction: "brightness", sign: 1, amount: 2.5)])
        XCTAssertEqual(s.conflicts.count, 1)
    }

    func testIgnoredWordsAreReportedInPromptOrder() {
        let r = parse("A portrait of an old man with a red hat, turned left and smiling; very happy, 4k")
        XCTAssertEqual(r.terms.map(\.direction), ["yaw"])
        XCTAssertEqual(r.ignored, ["old", "man", "red", "hat", "smiling", "very", "happy", "4k"])
        XCTAssertEqual(r.conflicts, [])
    }

    func testPunctuationAndCaseDoNotMatter() {
        let r = parse("WARMER!!! ...Lit-From-The-Left; (Close-Up), Man’s Hat")
        XCTAssertEqual(r.terms.map(\.direction), ["warmth", "light_side", "framing"])
        XCTAssertEqual(r.terms.map(\.phrase), ["WARMER", "Lit-From-The-Left", "Close-Up"])
        XCTAssertEqual(r.ignored, ["Man’s", "Hat"])
        // Whole words only: "coolers" and "warmest" are not "cooler" and "warm".
        XCTAssertEqual(parse("coolers warmest").terms, [])
    }

    func testEmptyPrompt() {
        for p in ["", "   ", ",,, !!", "a the of"] {
            let r = parse(p)
            XCTAssertEqual(r, ParsedPrompt(prompt: p), p)
        }
    }

    func testWeakOrMissingDirectionsAreNotOffered() {
        let weak = syntheticDirections(["light_side": 0.12], leaving: ["framing"])
        let r = PromptVocabulary.parse("warmer, lit from the left, close-up", directions: weak)
        XCTAssertEqual(r.terms.map(\.direction), ["warmth"])
        XCTAssertEqual(r.ignored, ["lit from the left", "close-up"])
        XCTAssertEqual(r.notes.count, 2)
        XCTAssertTrue(r.notes[0].contains("0.12") && r.notes[0].contains("light_side"), r.notes[0])
        XCTAssertTrue(r.notes[1].contains("framing"), r.notes[1])
        let offered = PromptVocabulary.offered(directions: weak)
        XCTAssertEqual(offered.filter { !$0.offered }.map(\.entry.direction), ["light_side", "light_side", "framing", "framing"])
    }

    /// Every phrase is in one entry only and parses back to exactly its own entry, with nothing ignored.
    func testEveryPhraseParsesToItsOwnEntry() {
        var seen: [String: Int] = [:]
        for (k, e) in PromptVocabulary.entries.enumerated() {
            XCTAssertTrue(LatentDirections.standard.contains { $0.name == e.direction }, e.direction)
            XCTAssertTrue(e.sign == 1 || e.sign == -1)
            for p in e.phrases {
                let key = PromptVocabulary.tokens(p).map(\.key).joined(separator: " ")
                XCTAssertNil(seen[key], "phrase \(p) appears twice")
                seen[key] = k
                let r = parse(p)
                XCTAssertEqual(r.terms, [PromptTerm(phrase: p, direction: e.direction, sign: e.sign, amount: 1.5)], p)
                XCTAssertEqual(r.ignored, [], p)
            }
        }
        XCTAssertGreaterThan(seen.count, 100)
    }

    /// The committed table offers the vocabulary's directions (each one exists in it).
    func testVocabularyDirectionsExistInTheDiscoveredTable() {
        let names = Set(LatentDirections.discovered.map(\.name))
        for e in PromptVocabulary.entries { XCTAssertTrue(names.contains(e.direction), "\(e.direction) not discovered") }
        // With the committed table, a phrase is applied exactly when its direction's |r| >= 0.3.
        for (e, offered, r) in PromptVocabulary.offered() {
            let parsed = PromptVocabulary.parse(e.phrases[0])
            XCTAssertEqual(parsed.terms.isEmpty, !offered, e.phrases[0])
            XCTAssertEqual(offered, abs(r ?? 0) >= 0.3)
        }
    }
}
