#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(inv) = mailplay::inventory::Inventory::from_ini_str(&text, std::path::Path::new("fuzz.ini")) {
        let _ = inv.to_list_json();
    }
});
