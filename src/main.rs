fn main() -> std::process::ExitCode {
    streamswarm::cli::main()
}
