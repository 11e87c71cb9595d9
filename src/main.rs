//! `calibra` command-line entry point.

fn main() {
    std::process::exit(calibra::cli::main_with_args(std::env::args_os()));
}
