// GENERATED FILE: do not edit. Placeholder until the first run of tools/discover-directions.sh.

extension LatentDirections {
    static let provenance = DirectionsProvenance(
        weightsSHA256: "", firstSeed: 0, seeds: 0, faces: 0, renderSize: 256,
        command: "tools/discover-directions.sh")

    static let table: [LatentDirection] = []
}
