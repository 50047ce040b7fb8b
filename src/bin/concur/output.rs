//! What the command prints or writes: the tables, the JSON object, the SVG chart.

use std::fmt::Write as _;

use crate::python::Outcome;
use crate::{Report, Row, PAGE_BYTES};

const MECHANISMS: [&str; 4] = ["sequential", "event_loop", "thread_pool", "process_pool"];
const WORKLOADS: [&str; 2] = ["cpu", "io"];

fn workload_name(workload: &str) -> &'static str {
    if workload == "cpu" {
        "CPU-bound"
    } else {
        "I/O-bound"
    }
}

fn mechanism_name(mechanism: &str) -> &'static str {
    match mechanism {
        "sequential" => "sequential",
        "event_loop" => "event loop",
        "thread_pool" => "thread pool",
        _ => "process pool",
    }
}

fn row<'a>(report: &'a Report, workload: &str, mechanism: &str) -> Option<&'a Row> {
    report
        .rows
        .iter()
        .find(|r| r.workload == workload && r.mechanism == mechanism)
}

fn speedup(report: &Report, workload: &str, mechanism: &str) -> f64 {
    row(report, workload, mechanism).map_or(0.0, |r| Report::speedup(&report.rows, r))
}

fn python_speedup(report: &Report, workload: &str, mechanism: &str) -> Option<f64> {
    let r = report.python.row(workload, mechanism)?;
    report.python.speedup(r)
}

/// The measurements as a table, then the cheat sheet's two tables filled in from them.
pub(crate) fn tables(report: &Report) -> String {
    let s = &report.sizes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPU-bound: count primes below {}; I/O-bound: download {} pages of 16 KiB, {} ms latency each\n",
        s.primes_below,
        s.pages,
        s.latency.as_millis()
    );
    let with_python = matches!(report.python, Outcome::Measured { .. });
    if let Outcome::Measured { version, .. } = &report.python {
        let _ = writeln!(
            out,
            "| workload | mechanism | wall time | speed-up | CPython {version} wall time | CPython speed-up |"
        );
        out.push_str("|---|---|---:|---:|---:|---:|\n");
    } else {
        out.push_str("| workload | mechanism | wall time | speed-up |\n|---|---|---:|---:|\n");
    }
    for r in &report.rows {
        let _ = write!(
            out,
            "| {} | {} | {:.3} s | {:.1}x |",
            r.workload,
            r.label,
            r.wall.as_secs_f64(),
            Report::speedup(&report.rows, r)
        );
        if with_python {
            match report.python.row(r.workload, r.mechanism) {
                Some(p) => {
                    let sp = report.python.speedup(p).unwrap_or(0.0);
                    let _ = write!(out, " {:.3} s | {sp:.1}x |", p.wall.as_secs_f64());
                }
                None => out.push_str(" - | - |"),
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nThe event loop overlaps waiting (I/O) on one thread but cannot speed up computing.\n\
         No GIL in Rust: the thread pool speeds up CPU-bound work too (up to the {} CPUs here);\n\
         the process pool does as well, after paying to start its workers (timed above).",
        report.cpus
    );
    out.push_str(&cheat_sheet(report));
    out
}

/// What the measurements say about using `mechanism` for `workload`.
fn verdict(report: &Report, workload: &str, mechanism: &str) -> String {
    let s = speedup(report, workload, mechanism);
    let (winner, best) = MECHANISMS
        .iter()
        .map(|m| (*m, speedup(report, workload, m)))
        .fold(("sequential", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let name = workload_name(workload);
    if s < 1.2 {
        format!("{name}: no gain ({s:.1}x)")
    } else if s >= best * 0.9 {
        format!("{name}: the fastest ({s:.1}x)")
    } else if s >= 1.5 {
        format!(
            "{name}: helps ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
    } else {
        format!("{name}: no gain ({s:.1}x)")
    }
}

fn parallelism(speedup: f64, workers: usize, cpus: usize) -> String {
    if workers == 0 {
        // The event loop: one thread by design.
        return if speedup >= 1.5 {
            format!("Yes?! ({speedup:.1}x on CPU-bound work)")
        } else {
            format!("No, one thread ({speedup:.1}x on CPU-bound work)")
        };
    }
    if speedup >= 1.5 {
        format!("Yes ({speedup:.1}x on CPU-bound work)")
    } else if workers.min(cpus) < 2 {
        format!("Cannot tell with {workers} worker(s) on {cpus} CPU(s) ({speedup:.1}x)")
    } else {
        format!("No ({speedup:.1}x on CPU-bound work)")
    }
}

/// The cheat sheet's two tables, regenerated from the measurements.
fn cheat_sheet(report: &Report) -> String {
    let (w, cpus) = (report.sizes.workers, report.cpus);
    let when = |m: &str| {
        WORKLOADS
            .iter()
            .map(|wl| verdict(report, wl, m))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = String::from("\n## Overview (measured)\n\n");
    out.push_str(
        "| Mechanism | How it works | When to use it (measured speed-up) |\n|---|---|---|\n",
    );
    let _ = writeln!(
        out,
        "| `concur::aio` (async/await) | One thread (event loop). Tasks yield control to one another. | {} |",
        when("event_loop")
    );
    let _ = writeln!(
        out,
        "| ThreadPoolExecutor | Several threads in one process, shared memory, no GIL. | {} |",
        when("thread_pool")
    );
    let _ = writeln!(
        out,
        "| ProcessPoolExecutor | Several processes; data is serialized (postcard). | {} |",
        when("process_pool")
    );

    out.push_str("\n## Differences in parallelism (measured)\n\n");
    let python = match &report.python {
        Outcome::Measured { version, .. } => Some(version.as_str()),
        _ => None,
    };
    match python {
        Some(v) => {
            let _ = writeln!(
                out,
                "| Mechanism | Real parallelism? | Notes | CPython {v}: real parallelism? |\n|---|---|---|---|"
            );
        }
        None => out.push_str("| Mechanism | Real parallelism? | Notes |\n|---|---|---|\n"),
    }
    let entries = [
        (
            "async",
            "event_loop",
            0,
            "One thread: overlaps waiting, not computing.",
        ),
        (
            "ThreadPool",
            "thread_pool",
            w,
            "Threads share memory; no GIL in Rust.",
        ),
        (
            "ProcessPool",
            "process_pool",
            w,
            "Separate processes; pays to start them and to serialize.",
        ),
    ];
    for (name, m, workers, note) in entries {
        let cpu = speedup(report, "cpu", m);
        let io = speedup(report, "io", m);
        let _ = write!(
            out,
            "| {name} | {} | {note} I/O-bound {io:.1}x. |",
            parallelism(cpu, workers, cpus)
        );
        if python.is_some() {
            match python_speedup(report, "cpu", m) {
                Some(s) => {
                    let _ = write!(out, " {} |", parallelism(s, workers, cpus));
                }
                None => out.push_str(" - |"),
            }
        }
        out.push('\n');
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The measurements as one JSON object.
pub(crate) fn json(report: &Report) -> String {
    let s = &report.sizes;
    let mut out = String::from("{\n");
    let _ = writeln!(
        out,
        "  \"sizes\": {{\"primes_below\": {}, \"pages\": {}, \"page_bytes\": {PAGE_BYTES}, \"latency_ms\": {}, \"workers\": {}}},",
        s.primes_below,
        s.pages,
        s.latency.as_millis(),
        s.workers
    );
    let _ = writeln!(out, "  \"cpus\": {},", report.cpus);
    out.push_str("  \"rows\": [\n");
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|r| {
            format!(
                "    {{\"workload\": {}, \"mechanism\": {}, \"label\": {}, \"wall_s\": {:.6}, \"speedup\": {:.3}}}",
                json_string(r.workload),
                json_string(r.mechanism),
                json_string(&r.label),
                r.wall.as_secs_f64(),
                Report::speedup(&report.rows, r)
            )
        })
        .collect();
    out.push_str(&rows.join(",\n"));
    out.push_str("\n  ],\n  \"python\": ");
    match &report.python {
        Outcome::NotRequested => out.push_str("null"),
        Outcome::Unavailable(why) | Outcome::Failed(why) => {
            let _ = write!(out, "{{\"error\": {}}}", json_string(why));
        }
        Outcome::Measured { version, rows } => {
            let _ = writeln!(out, "{{\"version\": {}, \"rows\": [", json_string(version));
            let rows: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "    {{\"workload\": {}, \"mechanism\": {}, \"wall_s\": {:.6}, \"speedup\": {:.3}}}",
                        json_string(&r.workload),
                        json_string(&r.mechanism),
                        r.wall.as_secs_f64(),
                        report.python.speedup(r).unwrap_or(0.0)
                    )
                })
                .collect();
            out.push_str(&rows.join(",\n"));
            out.push_str("\n  ]}");
        }
    }
    out.push_str("\n}\n");
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A bar chart of the speed-ups over sequential: one group per workload, one bar per
/// mechanism (and a second, lighter one for CPython when measured).
pub(crate) fn svg(report: &Report) -> String {
    const SLOT: f64 = 120.0;
    const BAR: f64 = 40.0;
    const TOP: f64 = 70.0;
    const BASE: f64 = 270.0;
    let with_python = matches!(report.python, Outcome::Measured { .. });
    let group_w = SLOT * MECHANISMS.len() as f64 + 40.0;
    let width = 40.0 + group_w * WORKLOADS.len() as f64;
    let height = 330.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">Speed-up over sequential, measured on {} CPUs</text>",
        width / 2.0,
        report.cpus
    );
    let s = &report.sizes;
    for (g, wl) in WORKLOADS.iter().enumerate() {
        let x0 = 40.0 + g as f64 * group_w;
        let title = if *wl == "cpu" {
            format!("CPU-bound: primes below {}", s.primes_below)
        } else {
            format!(
                "I/O-bound: {} pages, {} ms latency",
                s.pages,
                s.latency.as_millis()
            )
        };
        let _ = writeln!(
            out,
            "<g class=\"workload\" id=\"{wl}\">\n<text x=\"{}\" y=\"45\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x0 + group_w / 2.0 - 20.0,
            xml(&title)
        );
        let bars: Vec<(usize, f64, bool)> = MECHANISMS
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                let rust = row(report, wl, m).map(|_| (i, speedup(report, wl, m), false));
                let py = python_speedup(report, wl, m).map(|sp| (i, sp, true));
                rust.into_iter().chain(py)
            })
            .collect();
        let max = bars.iter().map(|b| b.1).fold(1.0f64, f64::max);
        for (i, sp, py) in bars {
            let h = (BASE - TOP) * sp / max;
            let slot_x = x0 + i as f64 * SLOT;
            let x = if with_python {
                slot_x + SLOT / 2.0 - BAR - 2.0 + if py { BAR + 4.0 } else { 0.0 }
            } else {
                slot_x + (SLOT - BAR) / 2.0
            };
            let (fill, who) = if py {
                ("#f2b134", "CPython")
            } else {
                ("#3a6ea5", "concur")
            };
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{BAR}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{who} {}: {sp:.2}x</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{sp:.1}x</text>",
                BASE - h,
                mechanism_name(MECHANISMS[i]),
                x + BAR / 2.0,
                BASE - h - 4.0
            );
        }
        for (i, m) in MECHANISMS.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x0 + i as f64 * SLOT + SLOT / 2.0,
                BASE + 18.0,
                mechanism_name(m)
            );
        }
        let _ = writeln!(
            out,
            "<line x1=\"{x0}\" y1=\"{BASE}\" x2=\"{}\" y2=\"{BASE}\" stroke=\"black\"/>\n</g>",
            x0 + SLOT * MECHANISMS.len() as f64
        );
    }
    if with_python {
        let _ = writeln!(
            out,
            "<rect x=\"40\" y=\"305\" width=\"12\" height=\"12\" fill=\"#3a6ea5\"/><text x=\"58\" y=\"316\">concur (Rust)</text>\n<rect x=\"160\" y=\"305\" width=\"12\" height=\"12\" fill=\"#f2b134\"/><text x=\"178\" y=\"316\">CPython</text>"
        );
    }
    out.push_str("</svg>\n");
    out
}
