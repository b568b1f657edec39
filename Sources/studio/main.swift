import ArgumentParser
struct Studio: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "studio", abstract: "Consistent character identity across generated images and video.")
}
Studio.main()
