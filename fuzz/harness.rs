//! A small deterministic mutation fuzzer for `cargo test` on stable Rust.
//!
//! Each target replays its committed corpus (`fuzz/corpus/<target>/`), then
//! runs a fixed number of inputs made from the corpus by random edits
//! (seeded, so a run is reproducible). A panic fails the test with the
//! input saved under `target/fuzz-findings/`; an allocation larger than
//! [`MAX_ALLOCATION`] or more than [`MAX_LIVE`] bytes alive at once aborts
//! the process after printing the input; a stack overflow aborts it too.
//!
//! `MAILPLAY_FUZZ_ITERS=N` (inputs per target, default per target) and
//! `MAILPLAY_FUZZ_SEED=S` run it longer or differently; build with
//! `--release` for long runs. Included by the fuzz tests of both crates
//! with `#[path]`.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One allocation of more than this is an unbounded allocation.
pub const MAX_ALLOCATION: usize = 512 << 20;
/// Nor may the inputs make the process hold more than this at once.
pub const MAX_LIVE: usize = 1536 << 20;

static LIVE: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    /// This thread's input under test, for the message when an allocation
    /// is refused (a const thread-local: reading it does not allocate).
    static CURRENT: Cell<*const Vec<u8>> = const { Cell::new(std::ptr::null()) };
}

/// The system allocator with the limits above. A refused allocation makes
/// Rust abort with "memory allocation of N bytes failed"; the input is
/// printed first (with raw writes: nothing may allocate in here).
pub struct Limited;

unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        let grow = new_size.saturating_sub(old);
        if new_size > MAX_ALLOCATION {
            refused(new_size);
            return std::ptr::null_mut();
        }
        if !admit(grow) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if p.is_null() {
            LIVE.fetch_sub(grow, Ordering::Relaxed);
        } else if new_size < old {
            LIVE.fetch_sub(old - new_size, Ordering::Relaxed);
        }
        p
    }
}

fn admit(size: usize) -> bool {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if size > MAX_ALLOCATION || live > MAX_LIVE {
        LIVE.fetch_sub(size, Ordering::Relaxed);
        refused(size);
        return false;
    }
    true
}

fn raw_write(bytes: &[u8]) {
    // SAFETY: writing a valid buffer to stderr.
    unsafe {
        libc::write(2, bytes.as_ptr().cast(), bytes.len());
    }
}

fn refused(size: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = size;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    raw_write(b"\nfuzz: an allocation of ");
    raw_write(&digits[i..]);
    raw_write(b" bytes is over the limit (or too much is alive); the input was:\n");
    let p = CURRENT.with(Cell::get);
    if !p.is_null() {
        // SAFETY: set by `run` to an input that outlives the call.
        raw_write(unsafe { &*p });
    }
    raw_write(b"\n");
}

/// splitmix64: small, fast, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// In `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crate in a workspace").to_path_buf()
}

/// The committed corpus of a target, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo_root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files.into_iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("readable"))).collect()
}

/// One random edit of `data`; `dict` holds tokens of the input language.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, others: &[(String, Vec<u8>)], dict: &[&[u8]]) {
    let len = data.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 => {
            let i = rng.below(len + 1);
            data.insert(i, rng.next() as u8);
        }
        2 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            data.drain(i..i + n);
        }
        3 | 4 if !dict.is_empty() => {
            let i = rng.below(len + 1);
            let t = dict[rng.below(dict.len())];
            data.splice(i..i, t.iter().copied());
        }
        5 if len > 0 => {
            // A chunk repeated: long lines, deep nesting, big numbers.
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(8));
            let chunk = data[i..i + n].to_vec();
            let times = [2, 10, 100, 1000, 5000][rng.below(5)];
            let at = rng.below(len + 1);
            data.splice(at..at, chunk.iter().copied().cycle().take(n * times));
        }
        6 if !others.is_empty() => {
            // Splice: the head of this input, the tail of another.
            let other = &others[rng.below(others.len())].1;
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        7 if len > 0 => {
            data.truncate(rng.below(len));
        }
        8 if len > 1 => {
            // A digit run replaced by a large number.
            let i = rng.below(len);
            let big: &[u8] = [&b"99999999999"[..], b"18446744073709551615", b"4294967296", b"0", b"-1"][rng.below(5)];
            data.splice(i..i, big.iter().copied());
        }
        _ => {
            let i = rng.below(len + 1);
            data.insert(i, b"\r\n\t \0\"'\\{}[]():,=#%"[rng.below(19)]);
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Replay the corpus of `target`, then `iters` mutated inputs (or
/// `MAILPLAY_FUZZ_ITERS`). `check` must not panic on any input.
pub fn run(target: &str, dict: &[&[u8]], iters: u64, check: impl Fn(&[u8])) {
    let corpus = corpus(target);
    let iters = env_number("MAILPLAY_FUZZ_ITERS").unwrap_or(iters);
    let seed = env_number("MAILPLAY_FUZZ_SEED").unwrap_or(0x6d61_696c_706c_6179);
    let mut rng = Rng::new(seed ^ target.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    // MAILPLAY_FUZZ_VERBOSE=1 names each input before it runs (to find the
    // one that aborted the process).
    let verbose = std::env::var_os("MAILPLAY_FUZZ_VERBOSE").is_some();
    let try_one = |label: &str, input: &Vec<u8>| {
        if verbose {
            eprintln!("fuzz {target}: {label}: {:?}", String::from_utf8_lossy(&input[..input.len().min(200)]));
        }
        CURRENT.with(|c| c.set(input as *const Vec<u8>));
        let started = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
        CURRENT.with(|c| c.set(std::ptr::null()));
        if verbose {
            eprintln!("  {:?}", started.elapsed());
        }
        if let Err(panic) = outcome {
            let why =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            let dir = repo_root().join("target/fuzz-findings").join(target);
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{label}-{:016x}", input.iter().fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(*b as u64))));
            let _ = std::fs::write(&file, input);
            panic!(
                "fuzz target {target}: {label} panicked: {why}\n  input saved to {}\n  input: {:?}",
                file.display(),
                String::from_utf8_lossy(input)
            );
        }
    };
    for (name, input) in &corpus {
        try_one(&format!("corpus entry {name}"), input);
    }
    for i in 0..iters {
        let mut input = corpus[rng.below(corpus.len())].1.clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input, &corpus, dict);
        }
        // Keep inputs small enough to stay fast in debug builds.
        input.truncate(64 << 10);
        try_one(&format!("input {i} (seed {seed})"), &input);
    }
}
