//! Feeds arbitrary bytes to every decoder that reads untrusted bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gatewatch_wire::decode_untrusted(data);
});
