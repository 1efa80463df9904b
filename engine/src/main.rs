fn main() {
    std::process::exit(mailplay::cli::main());
}
