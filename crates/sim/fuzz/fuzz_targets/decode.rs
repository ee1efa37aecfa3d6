//! Feeds arbitrary bytes to every decoder the simulator runs on client input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gatewatch_sim::wire::decode_untrusted(data);
});
