#![no_main]
use libfuzzer_sys::fuzz_target;
use mailplay_modules::foreign::{interpret, json_lines};
use mailplay_modules::host::CommandOutput;

fuzz_target!(|data: &[u8]| {
    let out = CommandOutput { rc: 1, stdout: data.to_vec(), stderr: data.to_vec() };
    let _ = interpret(&out, Some("/usr/bin/python3"));
    let _ = json_lines(&String::from_utf8_lossy(data));
});
