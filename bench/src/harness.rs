//! A small harness: run each contender's closure in alternation, several rounds, keep the
//! median per operation, and print the table with ratios to concur.

use std::process::Command;
use std::time::{Duration, Instant};

/// One contender in a benchmark: a name and a closure that performs `n` operations.
pub(crate) struct Contender<'a> {
    pub(crate) name: &'static str,
    pub(crate) run: Box<dyn FnMut(u64) + 'a>,
}

impl<'a> Contender<'a> {
    pub(crate) fn new(name: &'static str, run: impl FnMut(u64) + 'a) -> Self {
        Contender {
            name,
            run: Box::new(run),
        }
    }
}

/// The result of one benchmark: the median time per operation of each contender.
pub(crate) struct Measured {
    pub(crate) benchmark: String,
    pub(crate) per_op: Vec<(&'static str, Option<Duration>)>,
}

/// Runs every contender `rounds` times on `n` operations, in alternation so that a noisy
/// moment of the machine hits all of them alike; returns each one's median per operation.
pub(crate) fn measure(
    benchmark: &str,
    n: u64,
    rounds: usize,
    mut contenders: Vec<Contender<'_>>,
) -> Measured {
    // One warm-up round: threads started, caches and allocator primed.
    for c in &mut contenders {
        (c.run)(n.div_ceil(10));
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for _ in 0..rounds {
        for (c, s) in contenders.iter_mut().zip(&mut samples) {
            let t = Instant::now();
            (c.run)(n);
            s.push(t.elapsed() / n as u32);
        }
    }
    let per_op = contenders
        .iter()
        .zip(samples)
        .map(|(c, mut s)| {
            s.sort();
            (c.name, Some(s[s.len() / 2]))
        })
        .collect();
    Measured {
        benchmark: benchmark.to_owned(),
        per_op,
    }
}

pub(crate) fn fmt_time(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Prints a Markdown table: one row per benchmark, per-operation time of each contender
/// and its ratio to the first contender (concur): `3.0x` means three times concur's time.
pub(crate) fn print_table(rows: &[Measured]) {
    let Some(first) = rows.first() else { return };
    let names: Vec<&str> = first.per_op.iter().map(|(n, _)| *n).collect();
    print!("| benchmark |");
    for n in &names {
        print!(" {n} |");
    }
    println!();
    print!("|---|");
    for _ in &names {
        print!("---:|");
    }
    println!();
    for row in rows {
        let base = row.per_op[0].1;
        print!("| {} |", row.benchmark);
        for (i, (_, t)) in row.per_op.iter().enumerate() {
            match (t, base) {
                (Some(t), Some(b)) if i > 0 => {
                    print!(
                        " {} ({:.1}x) |",
                        fmt_time(*t),
                        t.as_secs_f64() / b.as_secs_f64()
                    );
                }
                (Some(t), _) => print!(" {} |", fmt_time(*t)),
                (None, _) => print!(" n/a |"),
            }
        }
        println!();
    }
}

/// A measured value with its unit, as the tables print it: rates in k/s or M/s, other
/// values with two, one or no decimals as they grow.
pub(crate) fn fmt_value(v: f64, unit: &str) -> String {
    if unit.ends_with("/s") && unit != "GB/s" {
        return if v >= 1e6 {
            format!("{:.2} M/s", v / 1e6)
        } else if v >= 1e3 {
            format!("{:.1} k/s", v / 1e3)
        } else {
            format!("{v:.0}/s")
        };
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    if unit == "x" {
        format!("{v:.digits$}")
    } else {
        format!("{v:.digits$} {unit}")
    }
}

/// The JSON object a script in `bench/python/` printed on stdout (one flat object, as
/// `json.dumps` writes it).
pub(crate) struct PyJson {
    text: String,
}

impl PyJson {
    /// The object in `text` (one flat JSON object, as `json.dumps` writes it).
    pub(crate) fn parse(text: &str) -> Self {
        PyJson {
            text: text.to_owned(),
        }
    }

    /// The number under `name`, if there is one.
    pub(crate) fn num(&self, name: &str) -> Option<f64> {
        self.raw(name)?.parse().ok()
    }

    /// The string under `name`, if there is one.
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        let rest = &self.text[self.text.find(&format!("\"{name}\": \""))? + name.len() + 5..];
        Some(&rest[..rest.find('"')?])
    }

    fn raw(&self, name: &str) -> Option<&str> {
        let rest = &self.text[self.text.find(&format!("\"{name}\": "))? + name.len() + 4..];
        Some(rest[..rest.find([',', '}'])?].trim())
    }
}

/// Runs `python3 bench/python/<script> <args>` and returns the JSON it printed; `None` if
/// `python3` is missing or the script failed (the reason goes to stderr).
pub(crate) fn python_json(script: &str, args: &[String]) -> Option<PyJson> {
    let path = format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = match Command::new("python3").arg(&path).args(args).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("concur-bench: python3 not found ({e})");
            return None;
        }
    };
    if !out.status.success() {
        eprintln!(
            "concur-bench: the CPython script {script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(PyJson::parse(&String::from_utf8_lossy(&out.stdout)))
}

/// The rows `only` names (every row without it), or an error that lists the names;
/// `key` gives a row's name.
pub(crate) fn pick_rows<'a, R>(
    rows: &'a [R],
    key: impl Fn(&R) -> &'static str,
    only: Option<&str>,
) -> Result<Vec<&'a R>, String> {
    let picked: Vec<&R> = rows
        .iter()
        .filter(|r| only.is_none_or(|o| o == key(r)))
        .collect();
    if picked.is_empty() {
        let keys: Vec<_> = rows.iter().map(&key).collect();
        return Err(format!(
            "--only: no row '{}' (rows: {})",
            only.unwrap_or_default(),
            keys.join(", ")
        ));
    }
    Ok(picked)
}

/// A warm-up run of each row (`run(row, true)`; a row that cannot run here says why,
/// once, and is left out), then `rounds` runs of each (`run(row, false)`), the rows in
/// alternation. Per row: its samples, and why it was left out.
pub(crate) fn run_rounds<R, S>(
    rows: &[&R],
    rounds: usize,
    mut run: impl FnMut(&R, bool) -> Result<S, String>,
) -> (Vec<Vec<S>>, Vec<Option<String>>) {
    let mut skipped: Vec<Option<String>> = rows.iter().map(|r| run(r, true).err()).collect();
    let mut samples: Vec<Vec<S>> = rows.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for ((r, skip), s) in rows.iter().zip(&mut skipped).zip(&mut samples) {
            if skip.is_none() {
                match run(r, false) {
                    Ok(sample) => s.push(sample),
                    Err(why) => *skip = Some(why),
                }
            }
        }
    }
    (samples, skipped)
}

/// What a panic said, if it said it with a string.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> Option<String> {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
}
