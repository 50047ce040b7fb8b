//! What the command prints or writes: the tables, the JSON object, the SVG chart.

use std::fmt::Write as _;

use crate::python::Outcome;
use crate::{Report, Row, PAGE_BYTES};

const MECHANISMS: [&str; 4] = ["sequential", "event_loop", "thread_pool", "process_pool"];
const DATA_MECHANISMS: [&str; 4] = [
    "sequential",
    "thread_pool",
    "process_pool",
    "process_pool_shm",
];
const WORKLOADS: [&str; 3] = ["cpu", "io", "data"];

/// The mechanisms measured for `workload`, in the order they run.
fn mechanisms(workload: &str) -> &'static [&'static str; 4] {
    if workload == "data" {
        &DATA_MECHANISMS
    } else {
        &MECHANISMS
    }
}

fn workload_name(workload: &str) -> &'static str {
    match workload {
        "cpu" => "CPU-bound",
        "io" => "I/O-bound",
        _ => "Large data",
    }
}

fn mechanism_name(mechanism: &str) -> &'static str {
    match mechanism {
        "sequential" => "sequential",
        "event_loop" => "event loop",
        "thread_pool" => "thread pool",
        "process_pool_shm" => "process pool, shared memory",
        _ => "process pool",
    }
}

/// `bytes` for a person: B, KiB, MiB or GiB.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// CPU time over wall time: how many cores the run kept busy on average.
fn cores(r: &Row) -> f64 {
    r.cpu.as_secs_f64() / r.wall.as_secs_f64().max(1e-9)
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

/// The large-data rows' figures: (serialized row, shared-memory row), when measured.
fn data_rows(report: &Report) -> Option<(&Row, &Row)> {
    Some((
        row(report, "data", "process_pool")?,
        row(report, "data", "process_pool_shm")?,
    ))
}

/// The measurements as a table, then the cheat sheet's two tables filled in from them.
pub(crate) fn tables(report: &Report) -> String {
    let s = &report.sizes;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "CPU-bound: count primes below {}; I/O-bound: download {} pages of 16 KiB, {} ms latency each;\n\
         large data: transform {} MiB of f64 (twice a degree-15 polynomial per element)\n",
        s.primes_below,
        s.pages,
        s.latency.as_millis(),
        s.data_mib
    );
    let with_python = matches!(report.python, Outcome::Measured { .. });
    out.push_str(
        "| workload | mechanism | wall time | speed-up | CPU time | CPU use | peak memory | serialized |",
    );
    if let Outcome::Measured { version, .. } = &report.python {
        let _ = writeln!(out, " CPython {version} wall time | CPython speed-up |");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        out.push_str("\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    }
    for r in &report.rows {
        let _ = write!(
            out,
            "| {} | {} | {} | {:.1}x | {:.3} s | {:.1} cores | {} | {} |",
            r.workload,
            r.label,
            wall_cell(r),
            Report::speedup(&report.rows, r),
            r.cpu.as_secs_f64(),
            cores(r),
            size(r.peak_bytes),
            size(r.serialized_bytes),
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
    out.push('\n');
    out.push_str(&machine_note(report));
    out.push_str(&conclusions(report));
    let _ = writeln!(
        out,
        "CPU time counts every thread and worker process of the run (the local page server's\n\
         thread excepted); CPU use is CPU time over wall time; peak memory is the most resident\n\
         memory of this process plus its workers, sampled every 2 ms."
    );
    if let Some((ser, shm)) = data_rows(report) {
        let _ = writeln!(
            out,
            "\nLarge data: \"data is serialized\" has a price. Sent as Vec<f64>, the {} MiB array\n\
             crossed to the workers and back as {} of messages: {:.3} s, {} at the peak.\n\
             In shared memory (SharedBuffer) only descriptors crossed ({}): {:.3} s, {} at the\n\
             peak, {:.1}x faster. Threads need neither: they transform slices of one array in place.",
            report.sizes.data_mib,
            size(ser.serialized_bytes),
            ser.wall.as_secs_f64(),
            size(ser.peak_bytes),
            size(shm.serialized_bytes),
            shm.wall.as_secs_f64(),
            size(shm.peak_bytes),
            ser.wall.as_secs_f64() / shm.wall.as_secs_f64().max(1e-9)
        );
    }
    if let Outcome::Measured { data_checksum, .. } = &report.python {
        let agree = data_checksum.map(f64::to_bits) == Some(report.data_checksum.to_bits());
        let _ = writeln!(
            out,
            "\nCPython's large-data result {} concur's (checksum {:e}{}).",
            if agree { "matches" } else { "differs from" },
            report.data_checksum,
            match data_checksum {
                Some(c) if !agree => format!(", CPython's {c:e}"),
                _ => String::new(),
            }
        );
    }
    out.push_str(&cheat_sheet(report));
    out
}

/// A row's wall time, with the spread of its tries when it was measured more than once.
fn wall_cell(r: &Row) -> String {
    if r.tries.len() > 1 {
        let worst = r.tries.iter().copied().fold(0.0, f64::max);
        format!(
            "{:.3} s (best of {}, worst {worst:.3} s)",
            r.wall.as_secs_f64(),
            r.tries.len()
        )
    } else {
        format!("{:.3} s", r.wall.as_secs_f64())
    }
}

/// Whether other work on the machine disturbed the CPU-bound rows, and what it did to
/// each: every sentence from the rows' own figures.
pub(crate) fn machine_note(report: &Report) -> String {
    let mut out = String::new();
    let disturbed: Vec<(&Row, String)> = report
        .rows
        .iter()
        .filter_map(|r| r.disturbed().map(|why| (r, why)))
        .collect();
    let retried = report.rows.iter().filter(|r| r.tries.len() > 1).count();
    if disturbed.is_empty() {
        let _ = writeln!(
            out,
            "The machine ({} CPUs) was not contended: every CPU-bound row got the cores it could use, and no task waited long for a CPU{}.",
            report.cpus,
            if retried > 0 {
                format!(" (after {retried} row(s) were measured again)")
            } else {
                String::new()
            }
        );
        return out;
    }
    let _ = writeln!(
        out,
        "The machine ({} CPUs) was CONTENDED: other work held CPUs during the run, so these rows\n\
         are slower than on an idle machine (each kept at its best of up to {} tries):",
        report.cpus,
        crate::TRIES
    );
    for (r, why) in disturbed {
        let _ = writeln!(
            out,
            "  - {} {} (best of {} tries): {why}.",
            r.workload,
            r.label,
            r.tries.len()
        );
    }
    out
}

/// Why the speed-up of `mechanism` on `workload` cannot be trusted, if it cannot: its own
/// row or the sequential baseline it is divided by was disturbed.
fn untrusted(report: &Report, workload: &str, mechanism: &str) -> Option<String> {
    let own = row(report, workload, mechanism).and_then(Row::disturbed);
    let base = row(report, workload, "sequential")
        .filter(|_| mechanism != "sequential")
        .and_then(Row::disturbed)
        .map(|why| format!("the sequential baseline was disturbed: {why}"));
    match (own, base) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b),
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
    }
}

/// The conclusions about computing in parallel, from the CPU-bound rows.
fn conclusions(report: &Report) -> String {
    let mut out = String::new();
    if let Some(r) = row(report, "cpu", "event_loop") {
        let sp = Report::speedup(&report.rows, r);
        let io = speedup(report, "io", "event_loop");
        let sentence = match untrusted(report, "cpu", "event_loop") {
            Some(why) => format!(
                "The event loop's {sp:.1}x on CPU-bound work says little ({why}); it ran on one thread, {:.1} cores busy: it overlaps waiting (I/O-bound {io:.1}x), not computing.",
                r.cores()
            ),
            None => format!(
                "The event loop ran the CPU-bound work at {sp:.1}x on one thread: it overlaps waiting (I/O-bound {io:.1}x), not computing."
            ),
        };
        let _ = writeln!(out, "{sentence}");
    }
    for (m, name) in [
        ("thread_pool", "thread pool"),
        ("process_pool", "process pool"),
    ] {
        let Some(r) = row(report, "cpu", m) else {
            continue;
        };
        let sp = Report::speedup(&report.rows, r);
        let usable = r.expected_cores;
        let sentence = if let Some(why) = untrusted(report, "cpu", m).filter(|_| usable >= 2.0) {
            format!(
                "The {name}'s {sp:.1}x on CPU-bound work says little: the machine was contended ({why}); it kept {:.1} cores busy; on {usable:.0} free cores expect up to {usable:.0}x.",
                r.cores()
            )
        } else if sp >= 1.5 {
            format!(
                "The {name} ran CPU-bound work in parallel: {sp:.1}x, {:.1} cores busy of {usable:.0} usable{}.",
                r.cores(),
                if m == "thread_pool" { " (no GIL in Rust)" } else { ", after starting its workers (timed, with their shutdown)" }
            )
        } else if usable < 2.0 {
            format!("The {name} had {usable:.0} usable core(s): {sp:.1}x, no parallel gain was possible here.")
        } else if let Some(why) = r.disturbed() {
            format!(
                "The {name}'s {sp:.1}x on CPU-bound work says little: the machine was contended ({why}); on {usable:.0} free cores expect up to {usable:.0}x."
            )
        } else if r.cores() >= 1.5 && sp < 0.75 * r.cores() {
            format!(
                "The {name} kept {:.1} cores busy for only {sp:.1}x: these CPUs do not give a core's worth each (hyperthreads sharing a core?).",
                r.cores()
            )
        } else {
            format!(
                "The {name} gained only {sp:.1}x on CPU-bound work with {:.1} cores busy.",
                r.cores()
            )
        };
        let _ = writeln!(out, "{sentence}");
    }
    out
}

/// The "Real parallelism?" cell of one of concur's mechanisms, from its CPU-bound row.
fn parallelism_measured(report: &Report, mechanism: &str, workers: usize) -> String {
    let Some(r) = row(report, "cpu", mechanism) else {
        return "-".into();
    };
    let sp = Report::speedup(&report.rows, r);
    if workers == 0 {
        if untrusted(report, "cpu", mechanism).is_some() {
            return format!(
                "No, one thread ({:.1} cores busy; {sp:.1}x, contended)",
                r.cores()
            );
        }
        return parallelism(sp, 0, report.cpus);
    }
    if r.expected_cores >= 2.0 && untrusted(report, "cpu", mechanism).is_some() {
        format!(
            "Cannot tell: machine contended ({sp:.1}x with {:.1} cores)",
            r.cores()
        )
    } else if sp >= 1.5 {
        format!("Yes ({sp:.1}x on CPU-bound work)")
    } else if r.expected_cores < 2.0 {
        format!(
            "Cannot tell with {:.0} usable core(s) ({sp:.1}x)",
            r.expected_cores
        )
    } else if r.disturbed().is_some() {
        format!(
            "Cannot tell: machine contended ({sp:.1}x with {:.1} cores)",
            r.cores()
        )
    } else if r.cores() >= 1.5 && sp < 0.75 * r.cores() {
        format!("Yes, {:.1} cores busy, but only {sp:.1}x", r.cores())
    } else {
        format!("No ({sp:.1}x on CPU-bound work)")
    }
}

/// What the measurements say about using `mechanism` for `workload`.
fn verdict(report: &Report, workload: &str, mechanism: &str) -> String {
    let s = speedup(report, workload, mechanism);
    let (winner, best) = mechanisms(workload)
        .iter()
        .map(|m| (*m, speedup(report, workload, m)))
        .fold(("sequential", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let name = workload_name(workload);
    let contended = untrusted(report, workload, mechanism).is_some();
    let verdict = verdict_of(name, s, winner, best);
    if contended {
        format!("{verdict}, contended")
    } else {
        verdict
    }
}

fn verdict_of(name: &str, s: f64, winner: &str, best: f64) -> String {
    if s < 0.9 {
        format!("{name}: slower ({s:.1}x)")
    } else if s < 1.2 {
        format!("{name}: no gain ({s:.1}x)")
    } else if s >= best * 0.9 {
        format!("{name}: the fastest ({s:.1}x)")
    } else if s >= 1.5 {
        format!(
            "{name}: helps ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
    } else {
        format!(
            "{name}: a little ({s:.1}x; {} {best:.1}x)",
            mechanism_name(winner)
        )
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
            .filter(|wl| row(report, wl, m).is_some())
            .map(|wl| verdict(report, wl, m))
            .collect::<Vec<_>>()
            .join("; ")
    };
    // The process pool's large-data verdict: serialized, then in shared memory.
    let data_note = |with_speedup: bool| match data_rows(report) {
        Some((ser, shm)) => {
            let (a, b) = (
                Report::speedup(&report.rows, ser),
                Report::speedup(&report.rows, shm),
            );
            if with_speedup {
                format!(
                    " A {} MiB array: {} serialized, {a:.1}x; in shared memory {b:.1}x.",
                    report.sizes.data_mib,
                    size(ser.serialized_bytes)
                )
            } else {
                format!(
                    " (measured: {} serialized for a {} MiB array, {:.1}x slower than a SharedBuffer)",
                    size(ser.serialized_bytes),
                    report.sizes.data_mib,
                    ser.wall.as_secs_f64() / shm.wall.as_secs_f64().max(1e-9)
                )
            }
        }
        None => String::new(),
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
        "| ProcessPoolExecutor | Several processes; data is serialized (postcard){}. | {}; with shared memory: {} |",
        data_note(false),
        when("process_pool"),
        when("process_pool_shm")
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
        let io = speedup(report, "io", m);
        let data = if m == "process_pool" {
            data_note(true)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "| {name} | {} | {note} I/O-bound {io:.1}x.{data} |",
            parallelism_measured(report, m, workers)
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
        "  \"sizes\": {{\"primes_below\": {}, \"pages\": {}, \"page_bytes\": {PAGE_BYTES}, \"latency_ms\": {}, \"workers\": {}, \"data_mib\": {}}},",
        s.primes_below,
        s.pages,
        s.latency.as_millis(),
        s.workers,
        s.data_mib
    );
    let _ = writeln!(out, "  \"cpus\": {},", report.cpus);
    let _ = writeln!(out, "  \"data_checksum\": {:e},", report.data_checksum);
    out.push_str("  \"rows\": [\n");
    let rows: Vec<String> = report
        .rows
        .iter()
        .map(|r| {
            format!(
                "    {{\"workload\": {}, \"mechanism\": {}, \"label\": {}, \"wall_s\": {:.6}, \"speedup\": {:.3}, \"cpu_s\": {:.6}, \"cpu_cores\": {:.3}, \"peak_memory_bytes\": {}, \"serialized_bytes\": {}}}",
                json_string(r.workload),
                json_string(r.mechanism),
                json_string(&r.label),
                r.wall.as_secs_f64(),
                Report::speedup(&report.rows, r),
                r.cpu.as_secs_f64(),
                cores(r),
                r.peak_bytes,
                r.serialized_bytes
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
        Outcome::Measured {
            version,
            rows,
            data_checksum,
        } => {
            let _ = writeln!(
                out,
                "{{\"version\": {}, \"data_checksum\": {}, \"rows\": [",
                json_string(version),
                data_checksum.map_or("null".into(), |c| format!("{c:e}"))
            );
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

/// The label under a bar, one or two lines.
fn bar_label(workload: &str, mechanism: &str) -> [&'static str; 2] {
    match (workload, mechanism) {
        ("data", "process_pool") => ["process pool", "(serialized)"],
        ("data", "process_pool_shm") => ["process pool", "(shared memory)"],
        (_, m) => [mechanism_name(m), ""],
    }
}

/// A bar chart of the speed-ups over sequential: one group per workload, one bar per
/// mechanism (and a second, lighter one for CPython when measured), with the 1x line.
pub(crate) fn svg(report: &Report) -> String {
    const SLOT: f64 = 100.0;
    const GAP: f64 = 50.0;
    const LEFT: f64 = 30.0;
    const TOP: f64 = 90.0;
    const BASE: f64 = 300.0;
    let with_python = matches!(report.python, Outcome::Measured { .. });
    let bar = if with_python { 34.0 } else { 44.0 };
    let group_w = SLOT * 4.0;
    let width = LEFT * 2.0 + group_w * WORKLOADS.len() as f64 + GAP * (WORKLOADS.len() - 1) as f64;
    let height = 395.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"13\" fill=\"#222\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">Speed-up over sequential (higher is better), measured on {} CPUs</text>",
        width / 2.0,
        report.cpus
    );
    let s = &report.sizes;
    for (g, wl) in WORKLOADS.iter().enumerate() {
        let x0 = LEFT + g as f64 * (group_w + GAP);
        let title = match *wl {
            "cpu" => format!("CPU-bound: primes below {}", s.primes_below),
            "io" => format!(
                "I/O-bound: {} pages, {} ms latency",
                s.pages,
                s.latency.as_millis()
            ),
            _ => format!("Large data: {} MiB of f64", s.data_mib),
        };
        let _ = writeln!(
            out,
            "<g class=\"workload\" id=\"{wl}\">\n<text x=\"{}\" y=\"58\" text-anchor=\"middle\" font-weight=\"bold\" font-size=\"14\">{}</text>",
            x0 + group_w / 2.0,
            xml(&title)
        );
        let ms = mechanisms(wl);
        let bars: Vec<(usize, f64, bool)> = ms
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                let rust = row(report, wl, m).map(|_| (i, speedup(report, wl, m), false));
                let py = python_speedup(report, wl, m).map(|sp| (i, sp, true));
                rust.into_iter().chain(py)
            })
            .collect();
        let max = bars.iter().map(|b| b.1).fold(1.0f64, f64::max);
        // The 1x line: above it a mechanism gains, below it it loses.
        let one = BASE - (BASE - TOP) / max;
        let _ = writeln!(
            out,
            "<line x1=\"{x0}\" y1=\"{one:.1}\" x2=\"{}\" y2=\"{one:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
            x0 + group_w
        );
        for (i, sp, py) in bars {
            let h = ((BASE - TOP) * sp / max).max(1.0);
            let slot_x = x0 + i as f64 * SLOT;
            let x = if with_python {
                slot_x + SLOT / 2.0 - bar - 2.0 + if py { bar + 4.0 } else { 0.0 }
            } else {
                slot_x + (SLOT - bar) / 2.0
            };
            let (fill, who) = if py {
                ("#e8a33d", "CPython")
            } else {
                ("#2f6db5", "concur")
            };
            let _ = writeln!(
                out,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{who} {}: {sp:.2}x</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{sp:.1}x</text>",
                BASE - h,
                mechanism_name(ms[i]),
                x + bar / 2.0,
                BASE - h - 5.0
            );
        }
        for (i, m) in ms.iter().enumerate() {
            let cx = x0 + i as f64 * SLOT + SLOT / 2.0;
            let [first, second] = bar_label(wl, m);
            let _ = write!(
                out,
                "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\">{first}",
                BASE + 18.0
            );
            if !second.is_empty() {
                let _ = write!(out, "<tspan x=\"{cx:.1}\" dy=\"16\">{second}</tspan>");
            }
            out.push_str("</text>\n");
            // What crossed between processes, where that is the point.
            if let Some(r) = row(report, wl, m).filter(|_| *wl == "data" && i >= 2) {
                let _ = writeln!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">{}<tspan x=\"{cx:.1}\" dy=\"13\">serialized</tspan></text>",
                    BASE + 52.0,
                    size(r.serialized_bytes)
                );
            }
        }
        let _ = writeln!(
            out,
            "<line x1=\"{x0}\" y1=\"{BASE}\" x2=\"{}\" y2=\"{BASE}\" stroke=\"#222\"/>\n</g>",
            x0 + group_w
        );
    }
    let legend_y = height - 12.0;
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/><text x=\"{}\" y=\"{:.1}\">1x: as fast as sequential</text>",
        legend_y - 4.0,
        LEFT + 24.0,
        legend_y - 4.0,
        LEFT + 30.0,
        legend_y
    );
    if with_python {
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"#2f6db5\"/><text x=\"{}\" y=\"{legend_y:.1}\">concur (Rust)</text>\n<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"#e8a33d\"/><text x=\"{}\" y=\"{legend_y:.1}\">CPython</text>",
            LEFT + 230.0,
            legend_y - 11.0,
            LEFT + 248.0,
            LEFT + 370.0,
            legend_y - 11.0,
            LEFT + 388.0
        );
    }
    out.push_str("</svg>\n");
    out
}

/// `text` wrapped at `width` columns, continuation lines indented by `indent` spaces.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let lead = text.len() - text.trim_start().len();
    let mut line = " ".repeat(lead);
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if !line.trim().is_empty() && len + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
        } else if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A row's mechanism, short enough for a terminal column.
fn short_label(r: &Row) -> String {
    r.label
        .replace(" workers)", ")")
        .replace(" thread)", ")")
        .replace("shared memory", "shm")
        .replace("serialized", "serial.")
        .replace("shared slices", "slices")
}

/// The tables for a terminal `width` columns wide: the measurements aligned in columns,
/// the prose wrapped, each cheat-sheet row a block of its cells. The numbers are those of
/// [`tables`] (which it is made from, but for the measurements).
pub(crate) fn terminal(report: &Report, width: usize) -> String {
    let width = width.max(40);
    let markdown = tables(report);
    let mut out = String::new();
    let mut lines = markdown.lines().peekable();
    let mut header: Vec<String> = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with("| workload |") {
            // The measurements: replace the markdown rows with aligned columns.
            while lines.peek().is_some_and(|l| l.starts_with('|')) {
                lines.next();
            }
            let _ = writeln!(
                out,
                "{:<5}{:<26}{:>8} {:>7} {:>6} {:>4} {:>9} {:>9}",
                "", "mechanism", "wall", "speed", "CPU s", "use", "peak mem", "serial."
            );
            let mut notes = Vec::new();
            for r in &report.rows {
                let star = if r.tries.len() > 1 {
                    let worst = r.tries.iter().copied().fold(0.0, f64::max);
                    notes.push(format!(
                        "{} {}: best of {} tries, worst {worst:.3} s",
                        r.workload,
                        short_label(r),
                        r.tries.len()
                    ));
                    "*"
                } else {
                    " "
                };
                let _ = writeln!(
                    out,
                    "{:<5}{:<26}{:>7.3}s{star}{:>6.1}x {:>6.3} {:>4.1} {:>9} {:>9}",
                    r.workload,
                    short_label(r),
                    r.wall.as_secs_f64(),
                    Report::speedup(&report.rows, r),
                    r.cpu.as_secs_f64(),
                    r.cores(),
                    size(r.peak_bytes),
                    size(r.serialized_bytes),
                );
            }
            for n in notes {
                out.push_str(&wrap(&format!("* {n}"), width, 2));
            }
            continue;
        }
        if line.starts_with('|') {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect();
            if lines.peek().is_some_and(|l| l.starts_with("|---")) {
                lines.next();
                header = cells;
                continue;
            }
            let mut block = cells.first().cloned().unwrap_or_default();
            block.push('\n');
            for (h, c) in header.iter().zip(&cells).skip(1) {
                block.push_str(&wrap(&format!("  {h}: {c}"), width, 4));
            }
            out.push_str(&block);
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with("  - ") {
            if line.starts_with("  - ") {
                out.push_str(&wrap(line, width, 4));
            } else {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        // Prose: join the paragraph's lines, then wrap it.
        let mut para = line.to_string();
        while lines.peek().is_some_and(|l| {
            !l.is_empty() && !l.starts_with('|') && !l.starts_with("  - ") && !l.starts_with('#')
        }) {
            if para.ends_with(':') || para.ends_with('.') {
                break;
            }
            para.push(' ');
            para.push_str(lines.next().unwrap_or_default());
        }
        out.push_str(&wrap(&para, width, 0));
    }
    out
}
