//! `--python`: the same workloads in CPython (python/cheatsheet.py), for comparison.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::Sizes;

/// One CPython measurement.
#[derive(Debug, Clone)]
pub(crate) struct PyRow {
    pub(crate) workload: String,
    pub(crate) mechanism: String,
    pub(crate) wall: Duration,
}

/// What `--python` came to.
#[derive(Debug)]
pub(crate) enum Outcome {
    NotRequested,
    /// No python3, or no script: the reason, already reported on stderr.
    Unavailable(String),
    /// The script ran and failed.
    Failed(String),
    Measured {
        version: String,
        rows: Vec<PyRow>,
        /// The checksum of its large-data result (the same as concur's, to the bit, when
        /// both computed the same numbers).
        data_checksum: Option<f64>,
    },
}

impl Outcome {
    /// The CPython row matching a workload and mechanism.
    pub(crate) fn row(&self, workload: &str, mechanism: &str) -> Option<&PyRow> {
        match self {
            Outcome::Measured { rows, .. } => rows
                .iter()
                .find(|r| r.workload == workload && r.mechanism == mechanism),
            _ => None,
        }
    }

    /// The speed-up of a CPython row over CPython's sequential run.
    pub(crate) fn speedup(&self, row: &PyRow) -> Option<f64> {
        let base = self.row(&row.workload, "sequential")?;
        Some(base.wall.as_secs_f64() / row.wall.as_secs_f64().max(1e-9))
    }
}

fn script() -> Option<PathBuf> {
    [
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/cheatsheet.py"),
        PathBuf::from("python/cheatsheet.py"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Runs python/cheatsheet.py against the server at `addr`; says on stderr why not when
/// it cannot.
pub(crate) fn run(sizes: &Sizes, addr: SocketAddr) -> Outcome {
    let outcome = measure(sizes, addr);
    match &outcome {
        Outcome::Unavailable(why) => eprintln!("concur: {why}; going on without CPython"),
        Outcome::Failed(why) => eprintln!("concur: the CPython run failed: {why}"),
        _ => {}
    }
    outcome
}

fn measure(sizes: &Sizes, addr: SocketAddr) -> Outcome {
    let Some(script) = script() else {
        return Outcome::Unavailable("python/cheatsheet.py not found".into());
    };
    let output = Command::new("python3")
        .arg(&script)
        .args(["--primes-below", &sizes.primes_below.to_string()])
        .args(["--pages", &sizes.pages.to_string()])
        .args(["--workers", &sizes.workers.to_string()])
        .args(["--data-mib", &sizes.data_mib.to_string()])
        .args(["--addr", &addr.to_string()])
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Outcome::Unavailable("python3 is not installed".into())
        }
        Err(err) => return Outcome::Unavailable(format!("cannot run python3: {err}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no message");
        return Outcome::Failed(format!("{} ({last})", output.status));
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Reads the script's output: one row object per line (see python/cheatsheet.py).
fn parse(text: &str) -> Outcome {
    let first = text.lines().next().unwrap_or("");
    let version = string_field(first, "python").unwrap_or_else(|| "?".into());
    let data_checksum = number_field(first, "data_checksum");
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.contains("\"workload\"")) {
        let (Some(workload), Some(mechanism), Some(wall)) = (
            string_field(line, "workload"),
            string_field(line, "mechanism"),
            number_field(line, "wall_s"),
        ) else {
            return Outcome::Failed(format!("unexpected output line: {line}"));
        };
        rows.push(PyRow {
            workload,
            mechanism,
            wall: Duration::from_secs_f64(wall.max(0.0)),
        });
    }
    if rows.is_empty() {
        return Outcome::Failed("no measurements in its output".into());
    }
    Outcome::Measured {
        version,
        rows,
        data_checksum,
    }
}

fn field_start<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))?;
    Some(line[at + key.len() + 3..].trim_start())
}

fn string_field(line: &str, key: &str) -> Option<String> {
    let rest = field_start(line, key)?.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn number_field(line: &str, key: &str) -> Option<f64> {
    let rest = field_start(line, key)?;
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_scripts_output() {
        let text = "{\"python\": \"3.11.7\", \"data_checksum\": -1.25e-3, \"rows\": [\n\
            {\"workload\": \"cpu\", \"mechanism\": \"sequential\", \"wall_s\": 1.5},\n\
            {\"workload\": \"io\", \"mechanism\": \"event_loop\", \"wall_s\": 2e-3}\n]}\n";
        let Outcome::Measured {
            version,
            rows,
            data_checksum,
        } = parse(text)
        else {
            panic!()
        };
        assert_eq!(data_checksum, Some(-1.25e-3));
        assert_eq!(version, "3.11.7");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].mechanism, "event_loop");
        assert_eq!(rows[1].wall, Duration::from_millis(2));
    }
}
