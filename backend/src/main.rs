fn main() -> std::process::ExitCode {
    nodefit::cli::main()
}
