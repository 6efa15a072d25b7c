use std::process::ExitCode;

fn main() -> ExitCode {
    stackpkg::cli::main()
}
