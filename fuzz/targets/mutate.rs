//! A stable stand-in for libFuzzer in `cargo test`: each corpus input as
//! it is, then `rounds` mutations of them (byte flips, inserts, deletes,
//! splices), from a fixed seed so that a failure repeats.

use std::path::Path;

/// Runs `f` on the corpus of `target` and on `rounds` mutants; returns the
/// corpus size.
pub fn replay(target: &str, rounds: usize, mut f: impl FnMut(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    for input in &corpus {
        f(input);
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..rounds {
        let mut m = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut m, &corpus, &mut rng);
        }
        f(&m);
    }
    corpus.len()
}

fn mutate(m: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut XorShift) {
    const INTERESTING: &[u8] = b"%=&+\n\r\t\"'[]{}#*`<>\\\x00\xff\xc3\xa8-_.:/@ ";
    let pos = rng.below(m.len() + 1);
    match rng.below(5) {
        0 if !m.is_empty() => {
            let i = pos.min(m.len() - 1);
            m[i] ^= 1 << rng.below(8);
        }
        1 => m.insert(pos, INTERESTING[rng.below(INTERESTING.len())]),
        2 if !m.is_empty() => {
            let end = (pos + rng.below(8)).min(m.len());
            m.drain(pos.min(end)..end);
        }
        3 => {
            let other = &corpus[rng.below(corpus.len())];
            let at = rng.below(other.len() + 1);
            let end = (at + rng.below(64)).min(other.len());
            m.splice(pos..pos, other[at..end].iter().copied());
        }
        _ => {
            let i = pos.min(m.len());
            let digits = rng.below(10).to_string();
            m.splice(i..i, digits.bytes());
        }
    }
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 {
            0
        } else {
            (self.0 % n as u64) as usize
        }
    }
}
