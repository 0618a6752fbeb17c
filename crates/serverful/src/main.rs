// mimalloc instead of glibc's allocator: the warm invoke path allocates a few hundred
// small blocks per request, and glibc's malloc and free were a sixth of its CPU. It is
// built without transparent huge pages (`no_thp`), which took the idle server from 28 to
// 46 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    serverful::main()
}
