/// mimalloc rather than glibc's malloc: parsing, lint and evaluation allocate many small
/// strings and maps, and mimalloc makes them 15-20% faster (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nodefit::cli::main()
}
