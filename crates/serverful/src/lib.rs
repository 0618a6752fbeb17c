//! The `serverful` binary: command dispatch over the library crates.

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
