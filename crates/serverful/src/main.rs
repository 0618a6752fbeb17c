fn main() -> std::process::ExitCode {
    serverful::main()
}
