//! Fuzzes the server's side of Serverful's runtime frame channel: the input is all a
//! function process wrote on the channel (preface, frames), with two invocations waiting.
//! Every input ends the channel cleanly or with a logged problem, never a panic or a hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    // Most inputs are not the preface; starting with it lets the fuzzer reach the frames.
    let mut input = serverful_runtime::frames::PREFACE_FOR_FUZZING.to_vec();
    input.extend_from_slice(data);
    runtime().block_on(serverful_runtime::frames::drive(&input));
});
